package archive

import (
	"bytes"
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/tlseal/tlseal/timeline"
)

// The checker's operations on an archive on object storage: the
// counterparts of checkFile and walkFiles, and the retention findings.

// openRemote prepares a check of an S3 archive: its retention policy (an
// S3 archive without one is a finding), and what the log's segments say.
func (c *checker) openRemote() error {
	if !isRemote(c.dir) {
		return nil
	}
	st, err := openS3(c.dir)
	if err != nil {
		return err
	}
	c.remote = st
	p, err := st.loadPolicy()
	switch {
	case err != nil:
		c.add(CodeRetentionMissing, 0, retentionFile, "the archive's retention policy: %v", err)
	case p == nil:
		c.add(CodeRetentionMissing, 0, retentionFile, "the archive on object storage has no retention policy (%s): nothing says how long its objects are kept", retentionFile)
	}
	st.mu.Lock()
	st.judging, st.ret = true, map[string]string{}
	st.mu.Unlock()
	if p != nil {
		// Read before the policy was known.
		for _, name := range []string{metadataFile, retentionFile} {
			if info, err := st.statObject(name); err == nil {
				st.noteRetention(name, info)
			}
		}
	}
	for _, f := range []logFile{c.l.entries, c.l.hashes, c.l.index} {
		sf, ok := f.(*s3LogFile)
		if !ok || sf.gap == "" {
			continue
		}
		code := CodeIndexMismatch
		if sf.name == entriesFile {
			code = CodeRecordInvalid
		}
		c.add(code, 0, sf.name, "%s", sf.gap)
	}
	return nil
}

// statObject returns an object's information (size, retention).
func (s *s3Store) statObject(name string) (minio.ObjectInfo, error) {
	ctx, cancel := ctxTimeout()
	defer cancel()
	info, err := s.client.StatObject(ctx, s.loc.Bucket, s.key(name), minio.StatObjectOptions{})
	if err != nil {
		return info, s.s3Err(name, err)
	}
	return info, nil
}

// checkObject compares an entry with its sealed file in the bucket, as
// checkFile does on disk.
func (c *checker) checkObject(e *Entry) {
	name := filesDir + "/" + e.ArchiveName
	var info minio.ObjectInfo
	var obj *s3Object
	var err error
	if c.opts.SkipFiles {
		info, err = c.remote.statObject(name)
	} else if obj, err = c.remote.openObject(name); err == nil {
		defer obj.Close()
		info = obj.info
	}
	if errors.Is(err, fs.ErrNotExist) {
		c.add(CodeEntryMissingFile, e.Seq, name, "the sealed file is missing")
		return
	}
	if err != nil {
		c.add(CodeEntryMissingFile, e.Seq, name, "%v", err)
		return
	}
	if p := c.remote.policy; p != nil {
		if msg := judgeRetention(p, info); msg != "" {
			c.add(CodeRetentionMissing, e.Seq, name, "%s", msg)
		}
	}
	if info.Size != e.SealedSize {
		c.add(CodeEntryMismatch, e.Seq, name, "the file is %d bytes, the log says %d", info.Size, e.SealedSize)
	}
	if obj == nil {
		return
	}
	o, err := timeline.OpenKnown(obj, obj.size, e.EnvelopeBytes, e.Envelope)
	if err != nil {
		c.add(CodeEntryMismatch, e.Seq, name, "%v", err)
		return
	}
	for _, p := range o.Problems {
		c.add(p.Code, e.Seq, name, "%s", p.Detail)
	}
	if o.EnvelopeBytes != nil && !bytes.Equal(o.EnvelopeBytes, e.EnvelopeBytes) {
		c.add(CodeEntryMismatch, e.Seq, name, "the file's seal is not the logged one (leaf %d)", e.Index)
	}
	c.judge(e, c.remote.url(name), name, o)
}

// walkObjects reports objects under files/ that no entry lists, the
// quarantine, and the retention of the other objects read. The objects no
// entry reads have their retention judged here too: those under files/
// that no entry lists, the quarantine, and the intent records
// (log/pending) of entries past the log's end, which the next writer's
// recovery reads. (The intent records of entries in the log are not
// stat'ed: one request per entry, for records the log supersedes.)
func (c *checker) walkObjects() error {
	var judge []string
	err := c.remote.walk(filesDir, true, func(rel string, _ int64) error {
		if !c.names.has(rel) {
			c.add(CodeUnlistedFile, 0, filesDir+"/"+rel, "no log entry lists this file")
			judge = append(judge, filesDir+"/"+rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = c.remote.walk(quarantineDir, true, func(rel string, _ int64) error {
		c.add(CodeQuarantined, 0, quarantineDir+"/"+rel, "recovery set this file aside: it had no log entry and could not be completed")
		judge = append(judge, quarantineDir+"/"+rel)
		return nil
	})
	if err != nil {
		return err
	}
	logged := uint64(len(c.offsets))
	err = c.remote.walk(pendingDir, false, func(rel string, _ int64) error {
		// <seq as 16 hex digits>.<random>; anything else is judged too.
		hexSeq, _, _ := strings.Cut(rel, ".")
		if seq, perr := strconv.ParseUint(hexSeq, 16, 64); perr != nil || len(hexSeq) != 16 || seq > logged {
			judge = append(judge, pendingDir+"/"+rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if c.remote.policy != nil {
		for _, name := range judge {
			if info, err := c.remote.statObject(name); err == nil {
				c.remote.noteRetention(name, info)
			}
		}
	}
	for _, p := range c.remote.retentionProblems() {
		c.add(p.Code, p.Seq, p.Name, "%s", p.Detail)
	}
	return nil
}

// s3FileWorkers is how many sealed files a check of an S3 archive reads at
// once: reading an object is mostly waiting for the store, so more files
// are in flight than there are cores (the CPU work of hashing and
// signature checks still runs on GOMAXPROCS threads). Each holds at most
// s3WholeRead bytes.
const s3FileWorkers = 16

// fileWorkers is the number of file checkers for jobs CPUs.
func (c *checker) fileWorkers(jobs int) int {
	if c.remote != nil {
		return max(jobs, s3FileWorkers)
	}
	return jobs
}
