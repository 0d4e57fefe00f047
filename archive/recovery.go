package archive

// Recovery: what OpenWriter does to bring an archive back to a consistent
// state after any crash. The rules are docs/archive.md, "Recovery rules";
// the order of steps here follows that section.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/internal/atomicfile"
	"github.com/tlseal/tlseal/timeline"
)

// recover brings the log to a consistent state after any crash: see
// docs/archive.md, "Recovery".
func (w *Writer) recover(fresh bool) error {
	hook("recover.start")
	if err := w.cleanTemp(); err != nil {
		return err
	}
	keys, _, _, err := readAcceptedKeys(w.dir, w.meta.Origin)
	if err != nil {
		return err
	}
	cp, _, err := readCheckpoint(w.dir, w.meta.Origin, keys)
	if err != nil {
		return errorf(ReasonCorrupt, filepath.Join(w.dir, checkpointFile), err,
			"the checkpoint does not verify; refusing to append (check the archive: tlseal audit)")
	}
	var trusted int64
	if cp != nil {
		trusted = cp.Size
	} else if !fresh {
		w.log.Warn("no checkpoint: rebuilding the log's hashes and index from log/entries")
	}
	if err := w.rebuild(trusted); err != nil {
		return err
	}
	if cp != nil {
		if cp.Size > w.n {
			return errorf(ReasonCorrupt, w.dir, nil, "the log has %d entries, the checkpoint covers %d: entries were lost; refusing to append", w.n, cp.Size)
		}
		root, err := tlog.TreeHash(cp.Size, w.l)
		if err != nil {
			return err
		}
		if root != cp.Root {
			return errorf(ReasonCorrupt, w.dir, nil, "the log's root at size %d is not the checkpoint's: the log was altered; refusing to append", cp.Size)
		}
		w.cpSize = cp.Size
	}
	if w.n > 0 {
		e, err := w.l.entry(w.n - 1)
		if err != nil {
			return err
		}
		w.prevHash = e.EnvelopeSHA256()
	}
	completed, err := w.recoverPending()
	if err != nil {
		return err
	}
	if (cp == nil && !fresh) || completed {
		if _, err := w.checkpointLocked(); err != nil {
			return err
		}
	}
	hook("recover.done")
	return nil
}

// cleanTemp removes the sealed files being written when the last writer
// stopped, and temporary files of interrupted atomic writes.
func (w *Writer) cleanTemp() error {
	tmp := filepath.Join(w.dir, tmpDir)
	des, err := os.ReadDir(tmp)
	if errors.Is(err, fs.ErrNotExist) {
		return errorIf(os.Mkdir(tmp, 0o755), tmp)
	}
	if err != nil {
		return errorf(ReasonIO, tmp, err, "")
	}
	for _, de := range des {
		if err := os.RemoveAll(filepath.Join(tmp, de.Name())); err != nil {
			return errorf(ReasonIO, tmp, err, "removing %s", de.Name())
		}
		w.log.Info("removed an unfinished sealed file", "file", tmpDir+"/"+de.Name())
	}
	for _, d := range []string{w.dir, filepath.Join(w.dir, keysDir)} {
		des, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, de := range des {
			if n := de.Name(); strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-") {
				os.Remove(filepath.Join(d, n))
				w.log.Info("removed the temporary file of an interrupted write", "file", filepath.Join(d, n))
			}
		}
	}
	return nil
}

func errorIf(err error, path string) error {
	if err != nil {
		return errorf(ReasonIO, path, err, "")
	}
	return nil
}

// rebuild recomputes log/hashes and log/index from log/entries after the
// first `trusted` entries (durable since the last checkpoint), and repairs
// a torn tail of log/entries.
func (w *Writer) rebuild(trusted int64) error {
	isz, err := fileSize(w.l.index)
	if err != nil {
		return errorf(ReasonIO, indexFile, err, "")
	}
	hsz, err := fileSize(w.l.hashes)
	if err != nil {
		return errorf(ReasonIO, hashesFile, err, "")
	}
	esz, err := fileSize(w.l.entries)
	if err != nil {
		return errorf(ReasonIO, entriesFile, err, "")
	}
	k := min(trusted, isz/indexRecordLen)
	var off int64
	if k > 0 {
		x, err := w.l.readIndex(k - 1)
		if err == nil && tlog.StoredHashCount(k)*hashLen <= hsz {
			_, _, err = w.l.readRecord(x.Offset, x.Length)
		} else if err == nil {
			err = fmt.Errorf("log/hashes is short")
		}
		if err != nil {
			w.log.Warn("the index or hashes are damaged before the checkpoint: rebuilding them from log/entries", "err", err)
			k = 0
		} else {
			off = x.Offset + int64(x.Length)
		}
	}
	// The derived records after k are rewritten in place (identical bytes
	// when they were right, so concurrent readers see no change), then
	// the files are cut to the exact size.
	w.n = k
	sc := newRecordScanner(w.l.entries, off, esz)
	for {
		r, roff, rlen, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !tornTail(w.l.entries, sc.off, esz, err) {
				return errorf(ReasonCorrupt, filepath.Join(w.dir, entriesFile), err, "a damaged record is followed by others; refusing to repair")
			}
			hook("recover.truncate")
			if err := w.l.entries.Truncate(sc.off); err != nil {
				return errorf(ReasonIO, entriesFile, err, "truncating the torn tail")
			}
			if err := w.l.entries.Sync(); err != nil {
				return errorf(ReasonIO, entriesFile, err, "")
			}
			w.log.Warn("repaired a torn tail of log/entries (an append interrupted by a crash)",
				"offset", sc.off, "bytesRemoved", esz-sc.off, "reason", err.Error())
			esz = sc.off
			break
		}
		if r.Seq != w.n+1 {
			return errorf(ReasonCorrupt, filepath.Join(w.dir, entriesFile), nil, "record at offset %d has seq %d, expected %d", roff, r.Seq, w.n+1)
		}
		name := ""
		if env, err := timeline.ParseEnvelope(r.Envelope); err == nil {
			name = env.Name
		}
		if err := w.appendDerived(r, roff, rlen, name); err != nil {
			return err
		}
	}
	w.entriesSize = esz
	if err := w.l.index.Truncate(w.n * indexRecordLen); err != nil {
		return errorf(ReasonIO, indexFile, err, "")
	}
	if err := w.l.hashes.Truncate(tlog.StoredHashCount(w.n) * hashLen); err != nil {
		return errorf(ReasonIO, hashesFile, err, "")
	}
	if err := w.syncDerived(); err != nil {
		return err
	}
	if rebuilt := w.n - k; rebuilt > 0 {
		w.log.Debug("rebuilt hashes and index after the last checkpoint", "entries", rebuilt)
	}
	return nil
}

// recoverPending completes or quarantines the file of an ingest that was
// interrupted between linking the sealed file and appending its record.
func (w *Writer) recoverPending() (completed bool, err error) {
	b := make([]byte, maxPendingLen)
	n, rerr := w.pend.ReadAt(b, 0)
	if rerr != nil && rerr != io.EOF {
		return false, errorf(ReasonIO, pendingFile, rerr, "")
	}
	if n == 0 {
		return false, nil
	}
	p, perr := parsePending(b[:n])
	if perr != nil {
		// Torn while being written: nothing was linked after it.
		w.log.Info("ignored an unfinished log/pending record", "reason", perr.Error())
		return false, nil
	}
	if p.Seq != w.n+1 {
		return false, nil // that ingest completed (or never linked its file)
	}
	path := filePath(w.dir, p.ArchiveName)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	hook("recover.pending")
	r, reason := w.checkOrphan(path, p)
	if r != nil {
		if err := w.appendRecord(r, ""); err != nil {
			return false, err
		}
		w.log.Warn("completed an ingest interrupted by a crash: the sealed file had no log entry", "file", filesDir+"/"+p.ArchiveName, "seq", p.Seq, "notes", len(r.Notes))
		return true, nil
	}
	q := filepath.Join(w.dir, quarantineDir, fmt.Sprintf("%d-seq%d", time.Now().UTC().UnixNano(), p.Seq), filepath.FromSlash(p.ArchiveName))
	if err := os.MkdirAll(filepath.Dir(q), 0o755); err != nil {
		return false, errorf(ReasonIO, q, err, "")
	}
	if err := os.Rename(path, q); err != nil {
		return false, errorf(ReasonIO, path, err, "quarantining")
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return false, errorf(ReasonIO, path, err, "")
	}
	if err := atomicfile.SyncDir(filepath.Dir(q)); err != nil {
		return false, errorf(ReasonIO, q, err, "")
	}
	rel, _ := filepath.Rel(w.dir, q)
	w.log.Warn("quarantined a sealed file without a log entry that could not be completed",
		"file", filesDir+"/"+p.ArchiveName, "to", filepath.ToSlash(rel), "reason", reason)
	return false, nil
}

// checkOrphan decides whether a sealed file found without its log entry is
// exactly the seal the interrupted ingest made: the next seq of this chain,
// linked to the last entry, content and signature intact. It returns the
// record to append, or why not.
func (w *Writer) checkOrphan(path string, p *pending) (*record, string) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, "not a regular file"
	}
	return w.checkOrphanSeal(f, st.Size(), p)
}

// checkOrphanSeal is checkOrphan of the file's bytes (on disk or in a
// bucket).
func (w *Writer) checkOrphanSeal(f io.ReaderAt, size int64, p *pending) (*record, string) {
	o, err := timeline.Open(f, size)
	if err != nil {
		return nil, err.Error()
	}
	if len(o.Problems) > 0 {
		return nil, o.Problems[0].Code + ": " + o.Problems[0].Detail
	}
	e := o.Envelope
	if c := e.Chain; c == nil || c.ID != w.meta.ChainID || c.Seq != p.Seq || c.Prev != w.prevHash {
		return nil, "its chain link is not the next one of this archive"
	}
	if _, err := timeline.VerifySignature(e); err != nil {
		return nil, "signature: " + err.Error()
	}
	if err := checkArchiveName(e.Name); err != nil {
		return nil, err.Error()
	}
	taken, err := w.archiveNameTaken(p.ArchiveName, false)
	if err != nil || taken {
		return nil, "its archive name is already in the log"
	}
	prev, err := w.previousVersion(e.Name)
	if err != nil {
		return nil, err.Error()
	}
	return &record{Seq: p.Seq, PrevVersion: prev, SealedSize: size, ArchiveName: p.ArchiveName, Envelope: o.EnvelopeBytes, Notes: p.Notes}, ""
}
