package archive

// Storage drivers (docs/archive.md, "Storage"). An archive is the same
// layout — the same names, the same bytes — whichever storage holds it: a
// directory (the POSIX driver, this package's original code, which owns the
// durability protocol and recovery of docs/archive.md) or a bucket and
// prefix of an S3 object store (s3store.go). The archive's read paths go
// through the few operations below; each names what the archive reads, by
// its layout name ('/'-separated, relative to the archive), so a new part
// of the layout (for example checkpoints/<size>.note with its timestamp
// token beside it) needs no new operation:
//
//	readArchiveFile   a small file of the layout (archive.json, checkpoint,
//	                  keys/*, ...), bounded
//	listArchiveDir    the names of one directory of the layout (keys/)
//	openLog           log/entries, log/hashes, log/index for reading
//	                  (random access, logFile)
//	the checker's file operations (checkFile, walkFiles), which compare
//	files/ with the log
//
// The POSIX driver is the os calls these replaced, unchanged.

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tlseal/tlseal/internal/atomicfile"
)

// logFile is one file of log/: what the readers use (ReadAt, Stat) and
// what the POSIX writer uses besides. *os.File is the POSIX driver's; the
// S3 driver's is read-only (its writer appends segments, s3store.go).
type logFile interface {
	io.ReaderAt
	io.WriterAt
	Stat() (fs.FileInfo, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// isRemote reports whether an archive location is object storage.
func isRemote(dir string) bool { return strings.HasPrefix(dir, s3Scheme) }

// layoutPath names a file of the layout in messages: a path on disk, a
// URL on object storage.
func layoutPath(dir, name string) string {
	if isRemote(dir) {
		return strings.TrimSuffix(dir, "/") + "/" + name
	}
	return filepath.Join(dir, filepath.FromSlash(name))
}

// readArchiveFile reads a file of the layout whole (os.ReadFile on disk).
func readArchiveFile(dir, name string) ([]byte, error) {
	if isRemote(dir) {
		st, err := openS3(dir)
		if err != nil {
			return nil, err
		}
		return st.readObject(name, 1<<20)
	}
	return os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
}

// readLimitedIn reads a file of the layout of at most max bytes.
func readLimitedIn(dir, name string, max int64) ([]byte, error) {
	if isRemote(dir) {
		st, err := openS3(dir)
		if err != nil {
			return nil, err
		}
		data, err := st.readObject(name, max+1)
		if err != nil {
			return nil, err
		}
		if int64(len(data)) > max {
			return nil, cpErr(ReasonMalformed, nil, "%s is more than %d bytes", filepath.Base(name), max)
		}
		return data, nil
	}
	return readLimited(filepath.Join(dir, filepath.FromSlash(name)), max)
}

// listArchiveDir returns the names in a directory of the layout (not
// recursive; on S3, the objects right below the prefix). A missing
// directory is fs.ErrNotExist.
func listArchiveDir(dir, name string) ([]string, error) {
	if isRemote(dir) {
		st, err := openS3(dir)
		if err != nil {
			return nil, err
		}
		return st.listNames(name)
	}
	des, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(des))
	for i, de := range des {
		names[i] = de.Name()
	}
	return names, nil
}

// IsURL reports whether an archive location is a URL (scheme://...), not
// a path: s3://BUCKET/PREFIX, or one CheckLocation refuses. A URL is never
// resolved against a directory.
func IsURL(dir string) bool {
	scheme, _, ok := strings.Cut(dir, "://")
	return ok && scheme != "" && !strings.ContainsAny(scheme, `/\.`)
}

// writeLayoutFile writes a new file of the layout, once (never replacing
// one): on disk atomically (temporary file, fsync, link, fsync of the
// directory), on object storage with If-None-Match: * and the archive's
// retention. The same bytes already there are a success, other bytes
// ReasonExists. It is the write side of readArchiveFile for files that
// are written once, such as a past checkpoint's note and the timestamp
// token beside it.
func (w *Writer) writeLayoutFile(name string, data []byte) error {
	if err := safeLayoutName(name); err != nil {
		return errorf(ReasonInvalidArgument, name, err, "")
	}
	if w.s3 != nil {
		return w.s3.st.putBytesOnce(name, data, w.s3.ret, w.opts.Now())
	}
	p := filepath.Join(w.dir, filepath.FromSlash(name))
	if err := mkdirDurable(w.dir, filepath.Dir(p)); err != nil {
		return errorf(ReasonIO, p, err, "")
	}
	err := atomicfile.WriteFile(p, data, 0o444, false)
	if errors.Is(err, atomicfile.ErrExists) {
		got, rerr := os.ReadFile(p)
		if rerr == nil && bytes.Equal(got, data) {
			return nil
		}
		return errorf(ReasonExists, p, nil, "the file exists with other bytes")
	}
	if err != nil {
		return errorf(ReasonIO, p, err, "")
	}
	return nil
}
