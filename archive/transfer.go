package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/minio/minio-go/v7"

	"github.com/tlseal/tlseal/internal/atomicfile"
)

// Copying an archive between storage kinds (tlseal archive import and
// export). The copy has the same layout and bytes; the caller audits it
// (both commands check the copy with Check before they report success).

// segmentLen is the largest log segment a copy writes.
const segmentLen = 64 << 20

// TransferStats says what a copy moved.
type TransferStats struct {
	Entries int64
	Objects int64
	Bytes   int64
}

// CheckBucketLock returns an error of reason ReasonInvalidArgument when the
// bucket of an s3:// location does not have Object Lock enabled (an
// archive's retention needs it), and the bucket's default retention, if
// any, for information.
func CheckBucketLock(loc string) error {
	st, err := openS3(loc)
	if err != nil {
		return err
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	ok, err := st.client.BucketExists(ctx, st.loc.Bucket)
	if err != nil {
		return st.s3Err("", err)
	}
	if !ok {
		return errorf(ReasonNotFound, st.loc.String(), nil, "the bucket %s does not exist (create it with Object Lock enabled)", st.loc.Bucket)
	}
	lock, _, _, _, err := st.client.GetObjectLockConfig(ctx, st.loc.Bucket)
	if err != nil || lock != "Enabled" {
		detail := "the bucket %s does not have Object Lock enabled: an archive's objects could be deleted or overwritten (create the bucket with Object Lock, e.g. aws s3api create-bucket --object-lock-enabled-for-bucket)"
		if err != nil && minio.ToErrorResponse(err).Code != "ObjectLockConfigurationNotFoundError" {
			return errorf(ReasonIO, st.loc.String(), err, "reading the bucket's Object Lock configuration")
		}
		return errorf(ReasonInvalidArgument, st.loc.String(), nil, detail, st.loc.Bucket)
	}
	return nil
}

// Import copies the archive in the directory src to the s3:// location
// dst, which must not hold an archive yet, with the retention policy ret on
// every object. It holds src's writer lock while it copies (a writer
// appending meanwhile would make the copy's files disagree with its log).
// An interrupted import can be run again: objects already there with the
// same bytes are kept (they cannot be removed under retention anyway).
// archive.json is written last: until then dst is not an archive.
func Import(src, dst string, ret *Retention) (*TransferStats, error) {
	if isRemote(src) || !isRemote(dst) {
		return nil, errorf(ReasonInvalidArgument, dst, nil, "import copies a directory to s3://BUCKET/PREFIX")
	}
	if ret == nil {
		return nil, errorf(ReasonInvalidArgument, dst, nil, "an archive on object storage needs a retention policy")
	}
	if err := CheckBucketLock(dst); err != nil {
		return nil, err
	}
	st, err := openS3(dst)
	if err != nil {
		return nil, err
	}
	if ok, err := st.exists(metadataFile); err != nil {
		return nil, err
	} else if ok {
		return nil, errorf(ReasonExists, dst, nil, "an archive is there already")
	}
	if _, err := ReadMetadata(src); err != nil {
		return nil, err
	}
	unlock, err := lockDir(src)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := OpenReader(src)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	stats := &TransferStats{Entries: r.Size()}
	now := time.Now()
	put := func(name string, data []byte) error {
		if err := st.putBytesOnce(name, data, ret, now); err != nil {
			return err
		}
		stats.Objects++
		stats.Bytes += int64(len(data))
		return nil
	}
	if err := put(retentionFile, ret.marshal()); err != nil {
		return nil, err
	}
	// Every file of the layout but the log, the writer's own files and
	// the archive metadata (last), under its name: files/, keys/,
	// quarantine/ and whatever later versions add.
	skip := map[string]bool{metadataFile: true, checkpointFile: true, lockFile: true}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == logDir || rel == tmpDir || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if skip[rel] || strings.HasPrefix(d.Name(), ".") || !d.Type().IsRegular() {
			return nil
		}
		return st.putFileOnce(rel, p, ret, now, stats)
	})
	if err != nil {
		return nil, wrapIO(src, err)
	}
	// The log, as far as the reader saw it.
	n := r.Size()
	var end int64
	if n > 0 {
		x, err := r.l.readIndex(n - 1)
		if err != nil {
			return nil, corrupt(err, "index record %d", n-1)
		}
		end = x.Offset + int64(x.Length)
	}
	for _, f := range []struct {
		name string
		file logFile
		size int64
	}{{entriesFile, r.l.entries, end}, {hashesFile, r.l.hashes, tlog.StoredHashCount(n) * hashLen}, {indexFile, r.l.index, n * indexRecordLen}} {
		for off := int64(0); off < f.size; off += segmentLen {
			size := min(segmentLen, f.size-off)
			sr := io.NewSectionReader(f.file, off, size)
			if err := st.putReaderOnce(segmentName(f.name, off), sr, size, ret, now); err != nil {
				return nil, err
			}
			stats.Objects++
			stats.Bytes += size
		}
	}
	if r.cp != nil {
		if err := put(checkpointFile, r.cp.Note); err != nil {
			return nil, err
		}
	}
	meta, err := readArchiveFile(src, metadataFile)
	if err != nil {
		return nil, wrapIO(src, err)
	}
	if err := put(metadataFile, meta); err != nil {
		return nil, err
	}
	return stats, nil
}

func wrapIO(path string, err error) error {
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	return errorf(ReasonIO, path, err, "")
}

// putFileOnce uploads a local file under a layout name (putOnce; an
// existing object with the same bytes is success).
func (s *s3Store) putFileOnce(name, file string, ret *Retention, now time.Time, stats *TransferStats) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := s.putReaderOnce(name, io.NewSectionReader(f, 0, fi.Size()), fi.Size(), ret, now); err != nil {
		return err
	}
	stats.Objects++
	stats.Bytes += fi.Size()
	return nil
}

// putReaderOnce is putOnce of a section of a file: when the object exists
// already, its bytes are compared with the section's, streaming.
func (s *s3Store) putReaderOnce(name string, r *io.SectionReader, size int64, ret *Retention, now time.Time) error {
	err := s.putOnce(name, r, size, ret, now)
	if ReasonOf(err) != ReasonExists {
		return err
	}
	same, cerr := s.sameObject(name, io.NewSectionReader(r, 0, size), size)
	if cerr != nil {
		return cerr
	}
	if !same {
		return errorf(ReasonExists, s.url(name), nil, "the object exists already with other bytes")
	}
	return nil
}

// sameObject compares an object with a reader's bytes, streaming.
func (s *s3Store) sameObject(name string, r io.Reader, size int64) (bool, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	obj, err := s.client.GetObject(ctx, s.loc.Bucket, s.key(name), minio.GetObjectOptions{})
	if err != nil {
		return false, s.s3Err(name, err)
	}
	defer obj.Close()
	a, b := make([]byte, 256<<10), make([]byte, 256<<10)
	var total int64
	for {
		na, ea := io.ReadFull(obj, a)
		nb, eb := io.ReadFull(r, b)
		if na != nb || string(a[:na]) != string(b[:nb]) {
			return false, nil
		}
		total += int64(na)
		if ea != nil || eb != nil {
			if ea != nil && ea != io.EOF && ea != io.ErrUnexpectedEOF {
				return false, s.s3Err(name, ea)
			}
			return (ea != nil) == (eb != nil) && total == size, nil
		}
	}
}

// Export copies the archive at the s3:// location src into the directory
// dst (which must not exist, or be empty): log segments joined into the
// log files, every other object of the layout as a file. It is built
// beside dst and renamed into place once complete and synced, as Create
// builds an archive. retention.json stays behind (a bucket's policy).
func Export(src, dst string) (*TransferStats, error) {
	if !isRemote(src) || isRemote(dst) {
		return nil, errorf(ReasonInvalidArgument, src, nil, "export copies s3://BUCKET/PREFIX to a directory")
	}
	if err := CheckLocation(dst); err != nil {
		return nil, err
	}
	meta, err := ReadMetadata(src)
	if err != nil {
		return nil, err
	}
	st, err := openS3(src)
	if err != nil {
		return nil, err
	}
	if des, err := os.ReadDir(dst); err == nil && len(des) > 0 {
		return nil, errorf(ReasonExists, dst, nil, "the directory is not empty")
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(ReasonIO, dst, err, "")
	}
	parent := filepath.Dir(filepath.Clean(dst))
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(filepath.Clean(dst))+".tlseal-new-")
	if err != nil {
		return nil, errorf(ReasonIO, dst, err, "")
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	stats := &TransferStats{}
	// The checkpoint first, as a reader reads it: the log read next holds
	// at least what it covers.
	if data, err := readLimitedIn(src, checkpointFile, maxCheckpointLen); err == nil {
		if err := writeExported(tmp, checkpointFile, data, 0o644); err != nil {
			return nil, err
		}
		stats.Objects++
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	l, err := openS3Log(src, false)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(tmp, logDir), 0o755); err != nil {
		return nil, errorf(ReasonIO, tmp, err, "")
	}
	for _, f := range []struct {
		name string
		file logFile
	}{{entriesFile, l.entries}, {hashesFile, l.hashes}, {indexFile, l.index}} {
		sf := f.file.(*s3LogFile)
		if err := copyToFile(filepath.Join(tmp, filepath.FromSlash(f.name)), io.NewSectionReader(sf, 0, sf.size), 0o644); err != nil {
			return nil, err
		}
		stats.Bytes += sf.size
		stats.Objects += int64(len(sf.offs))
	}
	// Everything else but the policy, the log and the metadata (last).
	err = st.walk("", true, func(rel string, size int64) error {
		top, _, _ := strings.Cut(rel, "/")
		if rel == retentionFile || rel == metadataFile || rel == checkpointFile || top == logDir || top == tmpDir || rel == lockFile {
			return nil
		}
		if err := safeLayoutName(rel); err != nil {
			return errorf(ReasonCorrupt, st.url(rel), err, "an object the export cannot write as a file")
		}
		obj, err := st.openObject(rel)
		if err != nil {
			return err
		}
		defer obj.Close()
		perm := fs.FileMode(0o644)
		if top == filesDir || rel == firstKeyFile {
			perm = 0o444
		}
		if err := copyToFile(filepath.Join(tmp, filepath.FromSlash(rel)), io.NewSectionReader(obj, 0, obj.size), perm); err != nil {
			return err
		}
		stats.Objects++
		stats.Bytes += obj.size
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range []string{filesDir, keysDir, tmpDir, quarantineDir} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return nil, errorf(ReasonIO, tmp, err, "")
		}
	}
	if err := syncTree(tmp); err != nil {
		return nil, err
	}
	if err := writeMetadata(tmp, meta); err != nil {
		return nil, errorf(ReasonIO, tmp, err, "")
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(ReasonIO, dst, err, "")
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, errorf(ReasonIO, dst, err, "")
	}
	ok = true
	if err := atomicfile.SyncDir(parent); err != nil {
		return nil, errorf(ReasonIO, parent, err, "")
	}
	r, err := OpenReader(dst)
	if err != nil {
		return nil, err
	}
	stats.Entries = r.Size()
	r.Close()
	return stats, nil
}

// safeLayoutName refuses an object name that cannot be a relative path
// inside the archive directory.
func safeLayoutName(name string) error {
	if name == "" || strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) {
		return fmt.Errorf("%q is not a relative '/'-separated name", name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("%q has an empty, '.' or '..' element", name)
		}
	}
	return nil
}

func writeExported(root, name string, data []byte, perm fs.FileMode) error {
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return errorf(ReasonIO, p, err, "")
	}
	if err := os.WriteFile(p, data, perm); err != nil {
		return errorf(ReasonIO, p, err, "")
	}
	return nil
}

// copyToFile writes a new file from r, synced.
func copyToFile(p string, r io.Reader, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return errorf(ReasonIO, p, err, "")
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return errorf(ReasonIO, p, err, "")
	}
	_, err = io.CopyBuffer(f, r, make([]byte, 1<<20))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return wrapIO(p, err)
	}
	return nil
}

// syncTree fsyncs every directory of a tree (the files were synced as
// they were written).
func syncTree(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return errorf(ReasonIO, p, err, "")
		}
		if d.IsDir() {
			if err := atomicfile.SyncDir(p); err != nil {
				return errorf(ReasonIO, p, err, "")
			}
		}
		return nil
	})
}
