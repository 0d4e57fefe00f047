package archive

// The S3 driver's writer: the Writer's state and its public methods are
// shared with the POSIX driver (writer.go); what touches storage is here.
// Its durability protocol (docs/archive.md, "Archives on object storage"):
//
//  1. Renew the lease (s3lease.go).
//  2. Seal the source into a local temporary file.
//  3. Choose the archive name and the previous version, as on disk, and
//     write the intent log/pending/<seq as 16 hex digits>.<random>: the
//     pending record of docs/archive.md, once (If-None-Match: *).
//  4. Upload the seal to files/<archive name> (If-None-Match: *), with the
//     retention. Refused because an object no entry lists is there: back
//     to 3 with the next name.
//  5. Append the record to log/entries as a new segment at its offset
//     (If-None-Match: *). This is the commit point: a PUT is atomic and
//     durable when it returns, so there is no torn record to repair.
//  6. Append its stored hashes and index record to log/hashes and
//     log/index. They go to the store with the next checkpoint (as on disk
//     they are fsynced with it): one segment each per checkpoint.
//
// Every object carries the archive's retention. Nothing is ever deleted or
// replaced except the lease and the checkpoint (a new version of it; the
// old versions stay, locked). A failure from step 4 on leaves the state
// unknown (a PUT may have succeeded though its answer was lost): the
// writer fails and its next open recovers.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/timeline"
)

// pendingDir holds the S3 writer's intent records (log/pending is a file
// on disk).
const pendingDir = "log/pending"

type s3Writer struct {
	st    *s3Store
	ret   *Retention
	lease *s3Lease
	stop  chan struct{} // stops the lease's renewal
	once  sync.Once
	// stray are archive names held by objects of files/ that no entry
	// lists (found when an upload there was refused).
	stray map[string]bool
}

// halt stops the lease's renewal.
func (sw *s3Writer) halt() { sw.once.Do(func() { close(sw.stop) }) }

// keepLease renews the lease while the writer is open, also when it is
// idle (a watcher between recordings), so that no other writer takes the
// archive over while this one may still append. A renewal that fails
// fails the writer (it is reopened to recover).
func (w *Writer) keepLease() {
	t := time.NewTicker(w.s3.lease.ttl / 4)
	defer t.Stop()
	for {
		select {
		case <-w.s3.stop:
			return
		case <-t.C:
		}
		w.mu.Lock()
		if !w.closed && w.failed == nil {
			if err := w.s3.lease.renew(); err != nil {
				w.failed = err
				w.log.Error("the archive's writer lease could not be renewed", "err", err)
			}
		}
		w.mu.Unlock()
	}
}

// openS3Writer is OpenWriter of an archive on object storage.
func openS3Writer(dir string, opts Options) (*Writer, error) {
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
	st, err := openS3(dir)
	if err != nil {
		return nil, err
	}
	ret, err := st.loadPolicy()
	if err != nil {
		return nil, err
	}
	if ret == nil {
		return nil, errorf(ReasonCorrupt, dir, nil, "the archive has no retention policy (%s): tlseal does not write to it", retentionFile)
	}
	lease, err := st.acquireLease()
	if err != nil {
		return nil, err
	}
	if err := admitKeyS3(st, dir, meta.Origin, opts, ret); err != nil {
		lease.release()
		return nil, err
	}
	return startS3Writer(dir, meta, opts, st, ret, lease)
}

func startS3Writer(dir string, meta *Metadata, opts Options, st *s3Store, ret *Retention, lease *s3Lease) (*Writer, error) {
	sw := &s3Writer{st: st, ret: ret, lease: lease, stop: make(chan struct{}), stray: map[string]bool{}}
	w := &Writer{dir: dir, meta: meta, opts: opts, log: opts.Logger.With("archive", dir), s3: sw,
		unlock: func() {
			sw.halt()
			lease.release()
		}}
	var err error
	if w.signer, err = newNoteSigner(meta.Origin, opts.Signer.Key, opts.Signer.Deterministic); err != nil {
		lease.release()
		return nil, errorf(ReasonInvalidArgument, "", err, "checkpoint signing key")
	}
	if w.l, err = openS3Log(dir, true); err != nil {
		lease.release()
		return nil, err
	}
	if err := w.recoverS3(); err != nil {
		w.release()
		return nil, err
	}
	go w.keepLease()
	w.startStamper()
	return w, nil
}

// admitKeyS3 is admitKey on object storage: the signer's key must be one
// the archive accepts, or be introduced now by a rotation statement that
// opts.PreviousSigner signs, or the archive must predate key pinning. The
// key's object goes first and the statement, which admits it, last, both
// with the archive's retention and written once: a crash between them
// leaves a key that signs nothing until a rotation is written again. A
// statement already there (an earlier attempt; ECDSA signatures differ
// from one signing to the next) is accepted when it admits the key.
func admitKeyS3(st *s3Store, dir, origin string, opts Options, ret *Retention) error {
	keys, kh, _, err := readAcceptedKeys(dir, origin)
	if err != nil {
		return err
	}
	h, err := KeyHash(opts.Signer.Cert.PublicKey)
	if err != nil {
		return errorf(ReasonInvalidArgument, "", err, "checkpoint signing key")
	}
	if keys[h] != nil {
		return nil
	}
	now := time.Now()
	keyName := keysDir + "/" + keyFileName(h)
	if !kh.pinned {
		return st.putBytesOnce(keyName, keyPEM(opts.Signer), ret, now)
	}
	if err := checkPreviousSigner(dir, keys, h, opts); err != nil {
		return err
	}
	name, msg, err := rotationStatement(origin, opts.PreviousSigner, opts.Signer)
	if err != nil {
		return err
	}
	if err := st.putBytesOnce(keyName, keyPEM(opts.Signer), ret, now); err != nil {
		return err
	}
	err = st.putBytesOnce(name, msg, ret, now)
	if ReasonOf(err) == ReasonExists {
		if keys, _, _, rerr := readAcceptedKeys(dir, origin); rerr == nil && keys[h] != nil {
			return nil
		}
		return errorf(ReasonKeyNotAccepted, dir, err, "%s is there already and does not admit key %08x (%s): the rotation cannot be written again on object storage (its objects are locked)", name, h, opts.Signer.Cert.Subject)
	}
	return err
}

// createS3 is Create on object storage: the bucket must have Object Lock
// and opts.Retention says how objects are kept. archive.json is written
// last: until then the prefix holds no archive, and an interrupted
// creation is finished by the next with the same signer and policy.
func createS3(dir string, opts Options) (*Writer, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	ret := opts.Retention
	if ret == nil {
		return nil, errorf(ReasonInvalidArgument, dir, nil, "an archive on object storage needs a retention policy (--retention PERIOD --mode compliance|governance)")
	}
	if err := CheckBucketLock(dir); err != nil {
		return nil, err
	}
	st, err := openS3(dir)
	if err != nil {
		return nil, err
	}
	if ok, err := st.exists(metadataFile); err != nil {
		return nil, err
	} else if ok {
		return nil, errorf(ReasonExists, dir, nil, "an archive is there already")
	}
	if opts.ChainID == "" {
		if opts.ChainID, err = newChainID(); err != nil {
			return nil, errorf(ReasonIO, "", err, "generating a chain id")
		}
	}
	if err := checkChainID(opts.ChainID); err != nil {
		return nil, errorf(ReasonInvalidArgument, "", err, "")
	}
	if opts.Origin == "" {
		opts.Origin = DefaultOrigin(opts.ChainID)
	}
	if !validKeyName(opts.Origin) {
		return nil, errorf(ReasonInvalidArgument, "", nil, "origin %q must be non-empty, without spaces or '+'", opts.Origin)
	}
	lease, err := st.acquireLease()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	h, err := KeyHash(opts.Signer.Cert.PublicKey)
	if err != nil {
		lease.release()
		return nil, errorf(ReasonInvalidArgument, "", err, "checkpoint signing key")
	}
	first, err := spkiSHA256(opts.Signer.Cert.PublicKey)
	if err != nil {
		lease.release()
		return nil, errorf(ReasonInvalidArgument, "", err, "checkpoint signing key")
	}
	for _, o := range []struct {
		name string
		data []byte
	}{
		{retentionFile, ret.marshal()},
		{keysDir + "/" + keyFileName(h), keyPEM(opts.Signer)},
		{firstKeyFile, []byte(first + "\n")},
	} {
		if err := st.putBytesOnce(o.name, o.data, ret, now); err != nil {
			lease.release()
			if ReasonOf(err) == ReasonExists {
				return nil, errorf(ReasonExists, dir, err, "the prefix holds another archive's files (an interrupted creation with another signer or policy?)")
			}
			return nil, err
		}
	}
	st.mu.Lock()
	st.policy, st.policyErr = ret, nil
	st.mu.Unlock()
	st.policyOnce.Do(func() {})
	meta := &Metadata{Format: FormatName, Version: FormatVersion, ChainID: opts.ChainID, Origin: opts.Origin, Created: nowUTC()}
	w, err := startS3Writer(dir, meta, opts, st, ret, lease) // recovery writes the first checkpoint
	if err != nil {
		return nil, err
	}
	data, err := metadataBytes(meta)
	if err == nil {
		err = st.putBytesOnce(metadataFile, data, ret, time.Now())
	}
	if err != nil {
		w.failed = err
		w.Close()
		return nil, err
	}
	return w, nil
}

// recoverS3 brings the writer's state up from the bucket: the checkpoint
// (it must verify), the entries after it, the hashes and index segments a
// crash left unwritten (rewritten from the entries: the same bytes), and
// the file of an ingest interrupted before its commit (completed from its
// pending record when it is exactly the seal the writer made). There are
// no torn records on object storage.
func (w *Writer) recoverS3() error {
	keys, _, _, err := readAcceptedKeys(w.dir, w.meta.Origin)
	if err != nil {
		return err
	}
	cp, _, err := readCheckpoint(w.dir, w.meta.Origin, keys)
	if err != nil {
		return errorf(ReasonCorrupt, checkpointFile, err, "the checkpoint does not verify: appending would cover up tampering")
	}
	isz, _ := fileSize(w.l.index)
	if isz%indexRecordLen != 0 {
		return errorf(ReasonCorrupt, indexFile, nil, "log/index is %d bytes, not a multiple of %d", isz, indexRecordLen)
	}
	indexed := isz / indexRecordLen
	var trusted, off int64
	if cp != nil && cp.Size > 0 {
		if cp.Size > indexed {
			return errorf(ReasonCorrupt, w.dir, nil, "the checkpoint covers %d entries, log/index holds %d", cp.Size, indexed)
		}
		e, err := w.l.entry(cp.Size - 1)
		if err != nil {
			return errorf(ReasonCorrupt, w.dir, err, "the last checkpointed entry")
		}
		trusted, off = cp.Size, e.Offset+int64(e.Length)
		w.prevHash = e.EnvelopeSHA256()
	}
	w.n, w.entriesSize = trusted, off
	esz, _ := fileSize(w.l.entries)
	sc := newRecordScanner(w.l.entries, off, esz)
	repaired := 0
	for {
		r, roff, length, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errorf(ReasonCorrupt, entriesFile, err, "record %d", w.n+1)
		}
		if r.Seq != w.n+1 {
			return errorf(ReasonCorrupt, entriesFile, nil, "record %d has seq %d", w.n+1, r.Seq)
		}
		if w.n < indexed {
			x, err := w.l.readIndex(w.n)
			if err != nil || x.Offset != roff || x.Length != length {
				return errorf(ReasonCorrupt, indexFile, err, "index record %d does not describe entry %d", w.n, w.n+1)
			}
			w.n = r.Seq
		} else {
			src := ""
			if env, err := timeline.ParseEnvelope(r.Envelope); err == nil {
				src = env.Name
			}
			if err := w.appendDerived(r, roff, length, src); err != nil {
				return err
			}
			repaired++
		}
		w.entriesSize = roff + int64(length)
		w.prevHash = timeline.Hex(sha256Sum(r.Envelope))
	}
	if err := w.syncDerived(); err != nil {
		return err
	}
	if indexed > w.n {
		return errorf(ReasonCorrupt, indexFile, nil, "log/index has %d records, log/entries %d", indexed, w.n)
	}
	if hsz, _ := fileSize(w.l.hashes); hsz != tlog.StoredHashCount(w.n)*hashLen {
		return errorf(ReasonCorrupt, hashesFile, nil, "log/hashes is %d bytes, %d entries need %d", hsz, w.n, tlog.StoredHashCount(w.n)*hashLen)
	}
	if repaired > 0 {
		w.log.Warn("wrote the hashes and index segments an interrupted append had not written", "entries", repaired)
	}
	if cp != nil {
		w.cpSize = cp.Size
		root, err := tlog.TreeHash(cp.Size, w.l)
		if err != nil {
			return err
		}
		if root != cp.Root {
			return errorf(ReasonCorrupt, w.dir, nil, "the log's root at the checkpoint's size is not the checkpoint's: entries were altered")
		}
	}
	completed, err := w.recoverPendingS3()
	if err != nil {
		return err
	}
	if completed || cp == nil || repaired > 0 && w.n > w.cpSize {
		if _, err := w.checkpointS3(); err != nil {
			return err
		}
	}
	return nil
}

// recoverPendingS3 completes the ingest of the next seq when its sealed
// file was uploaded but its record not appended.
func (w *Writer) recoverPendingS3() (bool, error) {
	prefix := fmt.Sprintf("%016x.", w.n+1)
	var names []string
	err := w.s3.st.walk(pendingDir, false, func(rel string, _ int64) error {
		if strings.HasPrefix(rel, prefix) {
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	for _, name := range names {
		data, err := w.s3.st.readObject(pendingDir+"/"+name, maxPendingLen+1)
		if err != nil {
			return false, err
		}
		p, perr := parsePending(data)
		if perr != nil || p.Seq != w.n+1 {
			continue
		}
		obj, err := w.s3.st.openObject(filesDir + "/" + p.ArchiveName)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the crash came before the upload
		}
		if err != nil {
			return false, err
		}
		r, reason := w.checkOrphanSeal(obj, obj.size, p)
		obj.Close()
		if r == nil {
			// Object storage keeps it (it is locked): the audit reports it
			// as log.unlistedFile. It cannot be a seal this writer made.
			w.log.Warn("a sealed file without a log entry could not be completed; it stays in files/ (locked)", "file", filesDir+"/"+p.ArchiveName, "reason", reason)
			continue
		}
		if err := w.appendRecord(r, ""); err != nil {
			return false, err
		}
		w.log.Warn("completed an ingest interrupted by a crash: the sealed file had no log entry", "file", filesDir+"/"+p.ArchiveName, "seq", p.Seq, "notes", len(r.Notes))
		return true, nil
	}
	return false, nil
}

// ingestS3 is ingest on object storage (the protocol above).
func (w *Writer) ingestS3(src, name string, notes []Note) (*Entry, error) {
	st := w.s3.st
	if err := w.s3.lease.renew(); err != nil {
		w.failed = err
		return nil, err
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
	prev, err := w.previousVersion(name)
	if err != nil {
		return nil, err
	}
	now := w.opts.Now()
	tmp, err := os.CreateTemp("", "tlseal-seal-*")
	if err != nil {
		return nil, errorf(ReasonIO, "", err, "a temporary file for the seal")
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var tsaErr error // the TSA failed, best effort: sealed without a token
	sealed, err := timeline.Seal(tmp, in, before.Size(), timeline.SealOptions{
		Name: name, Signer: w.opts.Signer, Time: now,
		Chain:     &timeline.Chain{ID: w.meta.ChainID, Seq: seq, Prev: w.prevHash},
		Timestamp: w.sealTimestampHook(&tsaErr),
	})
	if err != nil {
		return nil, errorf(ReasonSeal, src, err, "")
	}
	if tsaErr != nil {
		notes = withTimestampMissing(notes, tsaErr) // before the intent record below
	}
	after, err := in.Stat()
	if err != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return nil, errorf(ReasonSeal, src, err, "the file changed while it was sealed")
	}
	hook("sealed.synced")
	// The archive name is the first free one; an object of files/ that
	// no entry lists (the audit reports it) is found when the upload
	// there is refused, and the next name is tried: no request asks
	// beforehand whether a name is free.
	var an string
	for {
		if an, err = w.chooseName(name); err != nil {
			return nil, err
		}
		pb := (&pending{Seq: seq, ArchiveName: an, Notes: notes}).marshal()
		if err := st.putBytesOnce(fmt.Sprintf("%s/%016x.%s", pendingDir, seq, randomID()), pb, w.s3.ret, now); err != nil {
			return nil, err
		}
		hook("pending.synced")
		err = st.putReaderOnce(filesDir+"/"+an, io.NewSectionReader(tmp, 0, sealed.SealedSize), sealed.SealedSize, w.s3.ret, now)
		if ReasonOf(err) == ReasonExists && len(w.s3.stray) < 1<<16 {
			w.s3.stray[an] = true
			w.log.Warn("an object no log entry lists holds the archive name: the next version's name is used", "file", filesDir+"/"+an)
			continue
		}
		if err != nil {
			w.failed = err
			return nil, err
		}
		break
	}
	hook("file.synced")
	r := &record{Seq: seq, PrevVersion: prev, SealedSize: sealed.SealedSize, ArchiveName: an, Envelope: sealed.EnvelopeBytes, Notes: notes}
	off := w.entriesSize
	if err := w.appendRecord(r, name); err != nil {
		w.failed = err
		return nil, err
	}
	return newEntry(r, off, int(w.entriesSize-off)), nil
}

// checkpointS3 signs the current tree and writes it as the checkpoint's
// new version, with the retention.
func (w *Writer) checkpointS3() (*Checkpoint, error) {
	if err := w.s3.lease.renew(); err != nil {
		w.failed = err
		return nil, err
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
	if err := w.s3.st.putObject(checkpointFile, msg, w.s3.ret, w.opts.Now()); err != nil {
		return nil, err
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
