package archive

import (
	"crypto"
	"errors"
	"io"
	"iter"
	"os"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/internal/readonly"
)

// Reader reads an archive without the lock: any number of readers may run
// beside the writer. It sees the entries present when it was opened (Refresh
// sees later ones); it never reads the sealed files unless asked.
type Reader struct {
	dir  string
	meta *Metadata
	l    *logFiles
	size int64

	keys   map[uint32]*CheckpointKey
	cp     *Checkpoint
	cpKey  *CheckpointKey
	cpErr  error
	cpRead bool
}

// OpenReader opens the archive in dir for reading. It reads the metadata,
// the latest checkpoint and the log's size: O(log n), whatever the number of
// entries, and no sealed file is read.
func OpenReader(dir string) (*Reader, error) {
	meta, err := ReadMetadata(dir)
	if err != nil {
		return nil, err
	}
	l, err := openLog(dir, false)
	if err != nil {
		return nil, err
	}
	r := &Reader{dir: dir, meta: meta, l: l}
	if err := r.Refresh(); err != nil {
		l.close()
		return nil, err
	}
	return r, nil
}

// Refresh rereads the checkpoint and the log's size, to see entries
// appended since the Reader was opened.
func (r *Reader) Refresh() error {
	keys, _, _, err := readAcceptedKeys(r.dir, r.meta.Origin)
	if err != nil {
		return err
	}
	r.keys = keys
	// The checkpoint first: the writer writes it after the entries it
	// covers, so the log read next holds at least those.
	r.cp, r.cpKey, r.cpErr = readCheckpoint(r.dir, r.meta.Origin, keys)
	var trusted int64
	if r.cp != nil {
		trusted = r.cp.Size
	}
	n, err := r.l.treeSize(trusted)
	if err != nil {
		return err
	}
	r.size = n
	return nil
}

// Close releases the files.
func (r *Reader) Close() error {
	r.l.close()
	return nil
}

// Dir is the archive's directory.
func (r *Reader) Dir() string { return r.dir }

// Metadata is the archive's archive.json.
func (r *Reader) Metadata() *Metadata { return r.meta }

// Size is the number of entries in the log.
func (r *Reader) Size() int64 { return r.size }

// FilePath is where the sealed file of an entry is (on object storage,
// the object's URL: open it with OpenFile).
func (r *Reader) FilePath(e *Entry) string { return layoutPath(r.dir, filesDir+"/"+e.ArchiveName) }

// SealedFile is an archived sealed file opened for reading.
type SealedFile interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// OpenFile opens the sealed file of an entry, on disk or on object
// storage (fs.ErrNotExist when it is missing). A file whose size is not
// the one the log records is an error of reason ReasonCorrupt: what it
// holds is not what was archived.
func (r *Reader) OpenFile(e *Entry) (SealedFile, error) {
	var f SealedFile
	if isRemote(r.dir) {
		st, err := openS3(r.dir)
		if err != nil {
			return nil, err
		}
		obj, err := st.openObject(filesDir + "/" + e.ArchiveName)
		if err != nil {
			return nil, err
		}
		f = obj
	} else {
		osf, err := readonly.OpenNoFollow(filePath(r.dir, e.ArchiveName))
		if err != nil {
			return nil, err
		}
		fi, err := osf.Stat()
		if err != nil {
			osf.Close()
			return nil, err
		}
		f = diskFile{osf, fi.Size()}
	}
	if e.SealedSize > 0 && f.Size() != e.SealedSize {
		f.Close()
		return nil, errorf(ReasonCorrupt, r.FilePath(e), nil, "the file is %d bytes, the log says %d", f.Size(), e.SealedSize)
	}
	return f, nil
}

type diskFile struct {
	*os.File
	size int64
}

func (f diskFile) Size() int64 { return f.size }

// Checkpoint returns the latest checkpoint, verified with the archive's
// checkpoint key that signed it, and that key. It is an error when there is
// no checkpoint or it does not verify. Whether the key is trusted is the
// caller's decision (the key's certificate is returned).
func (r *Reader) Checkpoint() (*Checkpoint, *CheckpointKey, error) {
	if r.cpErr != nil {
		return nil, nil, errorf(ReasonBadSignature, layoutPath(r.dir, checkpointFile), r.cpErr, "")
	}
	if r.cp == nil {
		return nil, nil, errorf(ReasonNotFound, layoutPath(r.dir, checkpointFile), nil, "the archive has no checkpoint")
	}
	if r.cp.Size > r.size {
		return nil, nil, errorf(ReasonCorrupt, r.dir, nil, "the checkpoint covers %d entries, the log holds %d", r.cp.Size, r.size)
	}
	return r.cp, r.cpKey, nil
}

// CheckpointKeys returns the keys of keys/, by key hash.
func (r *Reader) CheckpointKeys() map[uint32]*CheckpointKey { return r.keys }

// Entry returns entry i (0-based; its seq is i+1), checking that the index,
// the record and the stored leaf hash agree.
func (r *Reader) Entry(i int64) (*Entry, error) {
	if i < 0 || i >= r.size {
		return nil, errorf(ReasonNotFound, "", nil, "entry index %d (the log has %d entries)", i, r.size)
	}
	return r.l.entry(i)
}

// Entries iterates over the entries in order, reading log/entries
// sequentially. Iteration stops at the first error.
func (r *Reader) Entries() iter.Seq2[*Entry, error] {
	return func(yield func(*Entry, error) bool) {
		end := int64(0)
		if r.size > 0 {
			x, err := r.l.readIndex(r.size - 1)
			if err != nil {
				yield(nil, corrupt(err, "index record %d", r.size-1))
				return
			}
			end = x.Offset + int64(x.Length)
		}
		sc := newRecordScanner(r.l.entries, 0, end)
		for i := int64(0); i < r.size; i++ {
			rec, off, n, err := sc.next()
			if err == io.EOF {
				err = errorf(ReasonCorrupt, entriesFile, nil, "log/entries ends after %d records, the index has %d", i, r.size)
			}
			if err != nil {
				yield(nil, corrupt(err, "entry %d", i+1))
				return
			}
			if rec.Seq != i+1 {
				yield(nil, errorf(ReasonCorrupt, entriesFile, nil, "record %d has seq %d", i+1, rec.Seq))
				return
			}
			if !yield(newEntry(rec, off, n), nil) {
				return
			}
		}
	}
}

// Lookup finds an entry by archive name (the path under files/) or, failing
// that, by source name (the latest version). It scans the 32-byte index
// records, not the entries.
func (r *Reader) Lookup(name string) (*Entry, error) {
	ah, sh := nameHash(name), nameHash(name)
	var byArchive, bySource []int64
	err := scanIndex(r.l, r.size, func(x *indexRecord) bool {
		if x.NameHash == ah {
			byArchive = append(byArchive, x.Seq)
		}
		if x.SrcHash == sh {
			bySource = append(bySource, x.Seq)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	for _, seq := range byArchive {
		e, err := r.l.entry(seq - 1)
		if err != nil {
			return nil, err
		}
		if e.ArchiveName == name {
			return e, nil
		}
	}
	for i := len(bySource) - 1; i >= 0; i-- {
		e, err := r.l.entry(bySource[i] - 1)
		if err != nil {
			return nil, err
		}
		if e.Name == name {
			return e, nil
		}
	}
	return nil, errorf(ReasonNotFound, name, nil, "no entry has that archive or source name")
}

// TreeHash returns the root of the tree of the first size entries.
func (r *Reader) TreeHash(size int64) (tlog.Hash, error) {
	if size < 0 || size > r.size {
		return tlog.Hash{}, errorf(ReasonInvalidArgument, "", nil, "tree size %d (the log has %d entries)", size, r.size)
	}
	return tlog.TreeHash(size, r.l)
}

// InclusionProof returns the RFC 6962 audit path of entry i in the tree of
// the first treeSize entries.
func (r *Reader) InclusionProof(i, treeSize int64) ([]tlog.Hash, error) {
	if treeSize < 1 || treeSize > r.size || i < 0 || i >= treeSize {
		return nil, errorf(ReasonInvalidArgument, "", nil, "inclusion of entry index %d in tree size %d (the log has %d entries)", i, treeSize, r.size)
	}
	return tlog.ProveRecord(treeSize, i, r.l)
}

// ConsistencyProof returns the RFC 6962 proof that the tree of newSize
// entries extends the tree of oldSize entries.
func (r *Reader) ConsistencyProof(oldSize, newSize int64) ([]tlog.Hash, error) {
	if oldSize < 1 || oldSize > newSize || newSize > r.size {
		return nil, errorf(ReasonInvalidArgument, "", nil, "consistency of tree sizes %d and %d (the log has %d entries)", oldSize, newSize, r.size)
	}
	return tlog.ProveTree(newSize, oldSize, r.l)
}

// Prove returns the inclusion proof of an entry against the latest
// checkpoint, in the C2SP tlog-proof form, with the entry's envelope as the
// extra data (so the proof is self-contained).
func (r *Reader) Prove(e *Entry) (*Proof, error) {
	cp, _, err := r.Checkpoint()
	if err != nil {
		return nil, err
	}
	if e.Index >= cp.Size {
		return nil, errorf(ReasonNotCovered, e.ArchiveName, nil,
			"entry %d is after the latest checkpoint (size %d); it is covered once the writer writes the next checkpoint", e.Seq, cp.Size)
	}
	hs, err := r.InclusionProof(e.Index, cp.Size)
	if err != nil {
		return nil, err
	}
	return &Proof{Index: e.Index, Hashes: hs, Checkpoint: cp.Note, Extra: e.EnvelopeBytes}, nil
}

// VerifyCheckpointAgainst checks that an earlier checkpoint (one an auditor
// saved, already verified) is consistent with this log: its root is the
// log's root at its size. It returns a *ConsistencyError otherwise.
func (r *Reader) VerifyCheckpointAgainst(old *Checkpoint) error {
	if old.Origin != r.meta.Origin {
		return &ConsistencyError{Msg: "the checkpoint is of origin " + old.Origin + ", the archive's is " + r.meta.Origin}
	}
	if old.Size > r.size {
		return &ConsistencyError{Truncated: true, Msg: "the checkpoint covers more entries than the log holds"}
	}
	root, err := r.TreeHash(old.Size)
	if err != nil {
		return err
	}
	if root != old.Root {
		return &ConsistencyError{Msg: "the log's root at the checkpoint's size differs from the checkpoint's"}
	}
	return nil
}

// ConsistencyError says that a checkpoint does not describe a prefix of the
// log.
type ConsistencyError struct {
	Truncated bool // the log is shorter than the checkpoint
	Msg       string
}

func (e *ConsistencyError) Error() string { return "inconsistent checkpoint: " + e.Msg }

// CheckpointKeyFor returns the public key of keys/ that signed a parsed
// checkpoint.
func (r *Reader) CheckpointKeyFor(c *Checkpoint) (crypto.PublicKey, error) {
	k := r.keys[c.KeyHash]
	if k == nil {
		return nil, errors.New("the key that signed the checkpoint is not in keys/")
	}
	return k.Cert.PublicKey, nil
}
