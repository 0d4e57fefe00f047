package archive

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/internal/atomicfile"
	"github.com/tlseal/tlseal/timeline"
)

// Options configure a Writer.
type Options struct {
	// ChainID names the chain of evidence (Create: generated when empty, a
	// random UUID; OpenWriter: when set, must be the archive's).
	ChainID string
	// Origin is the checkpoint origin (Create only; default
	// "tlseal.local/<chain id>"). It must be a valid note key name: no
	// spaces, no '+'.
	Origin string
	// Signer seals the files and signs the checkpoints. Required.
	Signer *timeline.Signer
	// PreviousSigner (OpenWriter only) is a key the archive already
	// accepts for its checkpoints, given when Signer's key is new: it signs
	// the rotation that introduces Signer's key (docs/archive.md,
	// "Checkpoint keys"). Without it a new key is refused.
	PreviousSigner *timeline.Signer
	// CheckpointEvery writes a checkpoint after that many entries
	// (0: 1000; negative: not by count).
	CheckpointEvery int
	// CheckpointInterval writes a checkpoint that long after an entry
	// not yet covered by one (0: 30s; negative: not by time).
	CheckpointInterval time.Duration
	// Timestamper, when set, obtains an RFC 3161 token for each checkpoint
	// (docs/archive.md, "Checkpoint timestamps"), in the background: a
	// slow or dead TSA never holds up an append.
	Timestamper Timestamper
	// OnTimestamp, when set, is told the outcome of each checkpoint's
	// TSA request (err nil: the token is stored), from the background
	// goroutine. Failures are logged either way.
	OnTimestamp func(size int64, err error)
	// SealTimestamp, when set, obtains the RFC 3161 token of each seal
	// (timeline.SealOptions.Timestamp: over its DER signature, before
	// anything is appended, so the token is inside the Merkle leaf).
	// Unless SealTimestampBestEffort, a failure fails the ingest of that
	// file.
	SealTimestamp func(sig []byte) ([]byte, error)
	// SealTimestampBestEffort seals a file without its token when the TSA
	// fails, recording the note timestamp.missing (a warning) with the
	// entry; after a failure the TSA is not asked again for a while (5 s,
	// doubling to 5 min), so that a dead TSA does not slow every file
	// down by its timeout (the watcher).
	SealTimestampBestEffort bool
	// TimestampWait bounds how long Close waits for the token of the
	// final checkpoint (0: DefaultTimestampWait).
	TimestampWait time.Duration
	// Logger receives the recovery messages (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock for signedAt (default time.Now).
	Now func() time.Time
	// Retention (Create on s3:// only) is the new archive's retention
	// policy: every object it writes is locked so (docs/archive.md,
	// "Archives on object storage").
	Retention *Retention
}

// Defaults of Options.
const (
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = 30 * time.Second
)

func (o *Options) normalize() error {
	if o.Signer == nil {
		return errorf(ReasonInvalidArgument, "", nil, "a signer is required (it seals the files and signs the checkpoints)")
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = DefaultCheckpointEvery
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TimestampWait <= 0 {
		o.TimestampWait = DefaultTimestampWait
	}
	return nil
}

// testHook, when set (tests only), is called at each step of an append and
// of recovery; the crash tests kill the process from it. When it returns
// true at "entries.write", the record is written half and the hook called
// again with "entries.torn".
var testHook func(point string) bool

func hook(point string) bool {
	if testHook != nil {
		return testHook(point)
	}
	return false
}

// Writer appends to an archive. It holds the archive's lock until Close.
// Its methods are safe for concurrent use (they are serialized).
type Writer struct {
	mu     sync.Mutex
	dir    string
	meta   *Metadata
	opts   Options
	log    *slog.Logger
	unlock func()
	l      *logFiles
	pend   *os.File
	signer *noteSigner
	stamps *stamper // nil without Options.Timestamper
	tsaOff sealTSABreaker

	n           int64  // entries in the log
	entriesSize int64  // end of the last record
	prevHash    string // hex SHA-256 of the last envelope ("" when empty)
	cpSize      int64  // size of the last checkpoint written or found
	names       *nameIndex
	timer       *time.Timer
	failed      error // a failure that left the state unknown: reopen to recover
	closed      bool
	s3          *s3Writer // the S3 driver's state (s3writer.go); nil on disk
}

// OpenWriter opens an existing archive for appending: it takes the lock
// (a second writer gets a Locked error) and runs recovery (see
// docs/archive.md, "Recovery"), logging what it repaired.
func OpenWriter(dir string, opts Options) (*Writer, error) {
	if err := CheckLocation(dir); err != nil {
		return nil, err
	}
	if isRemote(dir) {
		return openS3Writer(dir, opts)
	}
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	meta, err := ReadMetadata(dir)
	if err != nil {
		return nil, err
	}
	if opts.ChainID != "" && opts.ChainID != meta.ChainID {
		return nil, errorf(ReasonInvalidArgument, dir, nil, "the archive's chain id is %s, not %s", meta.ChainID, opts.ChainID)
	}
	if opts.Origin != "" && opts.Origin != meta.Origin {
		return nil, errorf(ReasonInvalidArgument, dir, nil, "the archive's origin is %s, not %s", meta.Origin, opts.Origin)
	}
	opts.ChainID, opts.Origin = meta.ChainID, meta.Origin
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	if err := admitKey(dir, meta.Origin, opts); err != nil {
		unlock()
		return nil, err
	}
	return openWriter(dir, meta, opts, unlock, false)
}

func openWriter(dir string, meta *Metadata, opts Options, unlock func(), fresh bool) (*Writer, error) {
	w := &Writer{dir: dir, meta: meta, opts: opts, log: opts.Logger.With("archive", dir), unlock: unlock}
	var err error
	if w.signer, err = newNoteSigner(meta.Origin, opts.Signer.Key, opts.Signer.Deterministic); err != nil {
		unlock()
		return nil, errorf(ReasonInvalidArgument, "", err, "checkpoint signing key")
	}
	if w.l, err = openLog(dir, true); err != nil {
		unlock()
		return nil, err
	}
	if w.pend, err = os.OpenFile(filepath.Join(dir, filepath.FromSlash(pendingFile)), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		w.l.close()
		unlock()
		return nil, errorf(ReasonIO, pendingFile, err, "")
	}
	if err := w.recover(fresh); err != nil {
		w.release()
		return nil, err
	}
	w.startStamper()
	return w, nil
}

// startStamper starts the background stamping of checkpoints when
// Options.Timestamper is set (both storage drivers).
func (w *Writer) startStamper() {
	if w.opts.Timestamper == nil {
		return
	}
	w.stamps = newStamper(w.dir, w.opts.Timestamper, w.writeLayoutFile, func(size int64, err error) {
		if err != nil {
			w.log.Warn("checkpoint timestamp failed: the checkpoint stays without a token until tlseal timestamp adds one", "size", size, "err", err)
		}
		if w.opts.OnTimestamp != nil {
			w.opts.OnTimestamp(size, err)
		}
	})
}

// ChainID is the archive's chain id.
func (w *Writer) ChainID() string { return w.meta.ChainID }

// Origin is the archive's checkpoint origin.
func (w *Writer) Origin() string { return w.meta.Origin }

// Dir is the archive's directory.
func (w *Writer) Dir() string { return w.dir }

// Size is the number of entries in the log.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// appendDerived appends the stored hashes and the index record of a record
// already in log/entries at off. They are made durable at checkpoints.
func (w *Writer) appendDerived(r *record, off int64, length int, sourceName string) error {
	i := r.Seq - 1
	hs, err := tlog.StoredHashes(i, r.Envelope, w.l)
	if err != nil {
		return err
	}
	b := make([]byte, 0, len(hs)*hashLen)
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	if _, err := w.l.hashes.WriteAt(b, tlog.StoredHashIndex(0, i)*hashLen); err != nil {
		return errorf(ReasonIO, hashesFile, err, "")
	}
	hook("hashes.written")
	x := &indexRecord{Offset: off, Length: length, Seq: r.Seq, NameHash: nameHash(r.ArchiveName), SrcHash: nameHash(sourceName)}
	if _, err := w.l.index.WriteAt(x.marshal(), i*indexRecordLen); err != nil {
		return errorf(ReasonIO, indexFile, err, "")
	}
	if w.names != nil {
		w.names.add(x)
	}
	w.n = r.Seq
	return nil
}

func (w *Writer) syncDerived() error {
	if err := w.l.hashes.Sync(); err != nil {
		return errorf(ReasonIO, hashesFile, err, "")
	}
	if err := w.l.index.Sync(); err != nil {
		return errorf(ReasonIO, indexFile, err, "")
	}
	return nil
}

// appendRecord makes r durable in log/entries (the commit point of an
// entry), then appends its hashes and index record.
func (w *Writer) appendRecord(r *record, sourceName string) error {
	if sourceName == "" {
		if env, err := timeline.ParseEnvelope(r.Envelope); err == nil {
			sourceName = env.Name
		}
	}
	b := r.marshal()
	off := w.entriesSize
	if hook("entries.write") {
		w.l.entries.WriteAt(b[:len(b)/2], off)
		hook("entries.torn")
	}
	if _, err := w.l.entries.WriteAt(b, off); err != nil {
		w.l.entries.Truncate(off)
		return errorf(ReasonIO, entriesFile, err, "")
	}
	if err := w.l.entries.Sync(); err != nil {
		w.l.entries.Truncate(off)
		return errorf(ReasonIO, entriesFile, err, "")
	}
	hook("entries.synced")
	w.entriesSize = off + int64(len(b))
	if err := w.appendDerived(r, off, len(b), sourceName); err != nil {
		// The entry is committed; the derived files are rebuilt on open.
		w.failed = err
		return err
	}
	w.prevHash = timeline.Hex(sha256Sum(r.Envelope))
	hook("index.written")
	return nil
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// ensureNames builds the name index on first use.
func (w *Writer) ensureNames() error {
	if w.names != nil {
		return nil
	}
	ni, err := buildNameIndex(w.l, w.n)
	if err != nil {
		return err
	}
	w.names = ni
	return nil
}

// archiveNameTaken reports whether an archive name is used: by a file in
// files/ (when onDisk) or by an entry of the log.
func (w *Writer) archiveNameTaken(name string, onDisk bool) (bool, error) {
	if onDisk && w.s3 != nil {
		if w.s3.stray[name] {
			return true, nil
		}
	} else if onDisk {
		if _, err := os.Lstat(filePath(w.dir, name)); err == nil {
			return true, nil
		} else if !errors.Is(err, fs.ErrNotExist) && !isNotDir(err) {
			return false, errorf(ReasonIO, filePath(w.dir, name), err, "")
		}
	}
	if err := w.ensureNames(); err != nil {
		return false, err
	}
	for _, seq := range w.names.candidates(false, nameHash(name)) {
		e, err := w.l.entry(seq - 1)
		if err != nil {
			return false, err
		}
		if e.ArchiveName == name {
			return true, nil
		}
	}
	return false, nil
}

// isNotDir reports ENOTDIR-like errors (a path element is a file): the name
// is then unusable rather than taken, which Ingest reports when linking.
func isNotDir(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "not a directory")
}

// previousVersion returns the seq of the last entry whose source name is
// name, or 0.
func (w *Writer) previousVersion(name string) (int64, error) {
	if err := w.ensureNames(); err != nil {
		return 0, err
	}
	for _, seq := range w.names.candidates(true, nameHash(name)) {
		e, err := w.l.entry(seq - 1)
		if err != nil {
			return 0, err
		}
		if e.Name == name {
			return seq, nil
		}
	}
	return 0, nil
}

// chooseName returns the first free archive name for a source name.
func (w *Writer) chooseName(name string) (string, error) {
	for k := 1; k < 1<<20; k++ {
		cand := VersionName(name, k)
		if err := checkArchiveName(cand); err != nil {
			return "", errorf(ReasonInvalidName, name, err, "")
		}
		taken, err := w.archiveNameTaken(cand, true)
		if err != nil {
			return "", err
		}
		if !taken {
			return cand, nil
		}
	}
	return "", errorf(ReasonInvalidName, name, nil, "too many versions")
}

// Ingest seals the file at src under the source name name (the path
// relative to the watched root, '/'-separated, or a base name), with the
// seal's chain set to the next link, stores it durably under files/ and
// appends its envelope to the log. A name already archived gets a new
// archive name (VersionName) and the entry records its previous version.
func (w *Writer) Ingest(src, name string) (*Entry, error) {
	return w.IngestWithNotes(src, name, nil)
}

// IngestWithNotes is Ingest, recording notes (the sealer's observations,
// e.g. that the file was incomplete) in the entry's log record. They are
// committed with the entry: after a crash the entry exists with its notes
// or not at all. They must be valid (CheckNotes); nil is Ingest.
func (w *Writer) IngestWithNotes(src, name string, notes []Note) (*Entry, error) {
	if len(notes) > 0 {
		if err := CheckNotes(notes); err != nil {
			return nil, errorf(ReasonInvalidArgument, name, err, "notes")
		}
		notes = append([]Note(nil), notes...) // the caller's slice may change
	} else {
		notes = nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errorf(ReasonClosed, w.dir, nil, "")
	}
	if w.failed != nil {
		return nil, errorf(ReasonClosed, w.dir, w.failed, "an earlier failure left the log in an unknown state; reopen the archive to recover")
	}
	if err := checkArchiveName(name); err != nil {
		return nil, errorf(ReasonInvalidName, name, err, "")
	}
	e, err := w.ingest(src, name, notes)
	if err != nil {
		return nil, err
	}
	w.afterAppend()
	return e, nil
}

func (w *Writer) ingest(src, name string, notes []Note) (*Entry, error) {
	if w.s3 != nil {
		return w.ingestS3(src, name, notes)
	}
	in, err := os.Open(src)
	if err != nil {
		return nil, errorf(ReasonIO, src, err, "")
	}
	defer in.Close()
	before, err := in.Stat()
	if err != nil {
		return nil, errorf(ReasonIO, src, err, "")
	}
	if !before.Mode().IsRegular() {
		return nil, errorf(ReasonInvalidArgument, src, nil, "not a regular file")
	}
	seq := w.n + 1
	an, err := w.chooseName(name)
	if err != nil {
		return nil, err
	}
	prev, err := w.previousVersion(name)
	if err != nil {
		return nil, err
	}
	// 1. Intent: which file may appear without a log entry, and the notes
	// recovery needs to complete its record.
	pb := (&pending{Seq: seq, ArchiveName: an, Notes: notes}).marshal()
	if _, err := w.pend.WriteAt(pb, 0); err != nil {
		return nil, errorf(ReasonIO, pendingFile, err, "")
	}
	if err := w.pend.Sync(); err != nil {
		return nil, errorf(ReasonIO, pendingFile, err, "")
	}
	hook("pending.synced")
	// 2. Seal into tmp/, fsync.
	tmp := filepath.Join(w.dir, tmpDir, "seal-"+strconv.FormatInt(seq, 10))
	os.Remove(tmp)
	out, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return nil, errorf(ReasonIO, tmp, err, "")
	}
	defer os.Remove(tmp)
	sopts := timeline.SealOptions{
		Name: name, Signer: w.opts.Signer, Time: w.opts.Now(),
		Chain: &timeline.Chain{ID: w.meta.ChainID, Seq: seq, Prev: w.prevHash},
	}
	var tsaErr error // the TSA failed, best effort: sealed without a token
	sopts.Timestamp = w.sealTimestampHook(&tsaErr)
	sealed, err := timeline.Seal(out, in, before.Size(), sopts)
	if err != nil {
		out.Close()
		return nil, errorf(ReasonSeal, src, err, "")
	}
	if tsaErr != nil {
		// The entry says why it has no token; recovery needs the note too.
		notes = withTimestampMissing(notes, tsaErr)
		pb := (&pending{Seq: seq, ArchiveName: an, Notes: notes}).marshal()
		if _, err := w.pend.WriteAt(pb, 0); err != nil {
			out.Close()
			return nil, errorf(ReasonIO, pendingFile, err, "")
		}
		if err := w.pend.Sync(); err != nil {
			out.Close()
			return nil, errorf(ReasonIO, pendingFile, err, "")
		}
	}
	after, err := in.Stat()
	if err != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		out.Close()
		return nil, errorf(ReasonSeal, src, err, "the file changed while it was sealed")
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return nil, errorf(ReasonIO, tmp, err, "")
	}
	if err := out.Close(); err != nil {
		return nil, errorf(ReasonIO, tmp, err, "")
	}
	hook("sealed.synced")
	// 3. Link into files/, fsync the directory (and new parents).
	target := filePath(w.dir, an)
	if err := mkdirDurable(filepath.Join(w.dir, filesDir), filepath.Dir(target)); err != nil {
		return nil, errorf(ReasonIO, target, err, "creating the directory")
	}
	if err := os.Link(tmp, target); err != nil {
		return nil, errorf(ReasonIO, target, err, "linking the sealed file")
	}
	hook("file.linked")
	rollback := func(cause error) error {
		if rerr := os.Remove(target); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			w.failed = cause
		} else if rerr := atomicfile.SyncDir(filepath.Dir(target)); rerr != nil {
			w.failed = cause
		}
		return cause
	}
	if err := atomicfile.SyncDir(filepath.Dir(target)); err != nil {
		return nil, rollback(errorf(ReasonIO, target, err, ""))
	}
	hook("file.synced")
	// 4. Append the record (commit), then hashes and index.
	r := &record{Seq: seq, PrevVersion: prev, SealedSize: sealed.SealedSize, ArchiveName: an, Envelope: sealed.EnvelopeBytes, Notes: notes}
	off := w.entriesSize
	if err := w.appendRecord(r, name); err != nil {
		if w.n < seq { // not committed
			return nil, rollback(err)
		}
		return nil, err
	}
	return newEntry(r, off, int(w.entriesSize-off)), nil
}

// mkdirDurable creates dir (inside root, which exists) and its missing
// parents, fsyncing the parent of each directory it creates.
func mkdirDurable(root, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	var missing []string
	for d := dir; d != root && len(d) > len(root); d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := atomicfile.SyncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// afterAppend writes a checkpoint when CheckpointEvery entries have been
// appended since the last, else arms the interval timer.
func (w *Writer) afterAppend() {
	if w.opts.CheckpointEvery > 0 && w.n-w.cpSize >= int64(w.opts.CheckpointEvery) {
		if _, err := w.checkpointLocked(); err != nil {
			w.log.Error("writing a checkpoint", "err", err)
		}
		return
	}
	if w.opts.CheckpointInterval > 0 && w.timer == nil {
		w.timer = time.AfterFunc(w.opts.CheckpointInterval, w.timedCheckpoint)
	}
}

func (w *Writer) timedCheckpoint() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = nil
	if w.closed || w.failed != nil || w.n == w.cpSize {
		return
	}
	if _, err := w.checkpointLocked(); err != nil {
		w.log.Error("writing a checkpoint", "err", err)
	}
}

// Checkpoint makes the log's hashes and index durable and writes a signed
// checkpoint of the current tree.
func (w *Writer) Checkpoint() (*Checkpoint, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errorf(ReasonClosed, w.dir, nil, "")
	}
	if w.failed != nil {
		return nil, errorf(ReasonClosed, w.dir, w.failed, "an earlier failure left the log in an unknown state; reopen the archive to recover")
	}
	return w.checkpointLocked()
}

func (w *Writer) checkpointLocked() (*Checkpoint, error) {
	if w.s3 != nil {
		return w.checkpointS3()
	}
	if err := w.syncDerived(); err != nil {
		return nil, err
	}
	root, err := tlog.TreeHash(w.n, w.l)
	if err != nil {
		return nil, err
	}
	msg, err := signCheckpoint(w.meta.Origin, w.n, root, w.signer)
	if err != nil {
		return nil, errorf(ReasonIO, "", err, "signing the checkpoint")
	}
	hook("checkpoint.write")
	if err := atomicfile.WriteFile(filepath.Join(w.dir, checkpointFile), msg, 0o644, true); err != nil {
		return nil, errorf(ReasonIO, filepath.Join(w.dir, checkpointFile), err, "")
	}
	hook("checkpoint.written")
	if w.stamps != nil && w.n > 0 {
		w.stamps.submit(w.n, msg)
	}
	w.cpSize = w.n
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	return &Checkpoint{Origin: w.meta.Origin, Size: w.n, Root: root, Note: msg, KeyHash: w.signer.hash}, nil
}

// Close writes a final checkpoint, closes the files and releases the lock.
// The Writer cannot be used afterwards.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	var err error
	if w.failed == nil {
		_, err = w.checkpointLocked()
	}
	w.closed = true
	w.release()
	return err
}

func (w *Writer) release() {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	if w.stamps != nil {
		// Under the lock still: the stamper writes into the archive.
		w.stamps.close(w.opts.TimestampWait)
		w.stamps = nil
	}
	if w.l != nil {
		w.l.close()
	}
	if w.pend != nil {
		w.pend.Close()
	}
	if w.unlock != nil {
		w.unlock()
		w.unlock = nil
	}
}
