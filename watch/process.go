package watch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/atomicfile"
	"github.com/tlseal/tlseal/timeline"
)

// gate holds back appends while the archive fails (disk full, I/O errors)
// or the signing key does (a token away), with an exponential backoff
// shared by all workers, so that a full disk or a missing token costs one
// attempt per backoff period rather than one per queued file. The files
// wait in their source meanwhile.
type gate struct {
	mu       sync.Mutex
	min, max time.Duration
	backoff  time.Duration
	until    time.Time
	healthy  func(bool) // reports the gate's state (a metric)
}

func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	d := time.Until(g.until)
	g.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fail closes the gate for the next backoff period and returns it.
func (g *gate) fail() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if now.Before(g.until) {
		return g.until.Sub(now) // another worker failed already
	}
	if g.backoff == 0 {
		g.backoff = g.min
	} else {
		g.backoff = min(2*g.backoff, g.max)
	}
	g.until = now.Add(g.backoff)
	if g.healthy != nil {
		g.healthy(false)
	}
	return g.backoff
}

// ok opens the gate after a successful append; it reports whether it was
// closed.
func (g *gate) ok() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	was := g.backoff != 0
	g.backoff, g.until = 0, time.Time{}
	if was && g.healthy != nil {
		g.healthy(true)
	}
	return was
}

// archiveOptions are the options of the archive writer.
func (w *Watcher) archiveOptions() archive.Options {
	return archive.Options{Signer: w.cfg.Signer, PreviousSigner: w.cfg.PreviousSigner, CheckpointEvery: w.cfg.CheckpointEvery,
		CheckpointInterval: w.cfg.CheckpointInterval, Logger: w.log, Now: w.cfg.Now,
		Timestamper: w.cfg.Timestamper, SealTimestamp: w.cfg.SealTimestamp, SealTimestampBestEffort: true,
		OnTimestamp: func(size int64, err error) { w.m.countTimestamp(tsKindCheckpoint, err == nil) }}
}

// openArchive opens (or creates) the archive, opens a reader on it and
// loads the state. A writer that cannot be opened for a reason that may go
// away (an I/O error such as a full disk during recovery) is retried by the
// workers; other failures stop Run.
func (w *Watcher) openArchive() error {
	dir := w.cfg.Archive
	aw, created, err := archive.OpenOrCreate(dir, w.archiveOptions())
	if created {
		w.log.Info("created a new archive", "archive", dir, "chainId", aw.ChainID())
	}
	if err != nil {
		if archive.ReasonOf(err) == archive.ReasonIO && archive.IsArchive(dir) {
			w.m.countError(ReasonArchiveFailed)
			w.log.Error("cannot open the archive for appending yet: retrying", "archive", dir, "reason", ReasonArchiveFailed, "err", err)
			w.gate.fail()
		} else {
			return newError(ReasonArchive, "open archive", dir, err)
		}
	}
	ar, err := archive.OpenReader(dir)
	if err != nil {
		if aw != nil {
			aw.Close()
		}
		return newError(ReasonArchive, "open archive", dir, err)
	}
	st, err := loadState(filepath.Join(w.cfg.StateDir, stateFileName), ar, w.log)
	if err != nil {
		ar.Close()
		if aw != nil {
			aw.Close()
		}
		return err
	}
	w.aw, w.ar, w.st = aw, ar, st
	w.m.with(func(m *metrics) { m.archiveEntries = st.logSize() })
	return nil
}

// closeArchive closes the writer (a final checkpoint) and the reader. It is
// safe to call twice.
func (w *Watcher) closeArchive() error {
	w.amu.Lock()
	defer w.amu.Unlock()
	var err error
	if w.aw != nil {
		err = w.aw.Close()
		w.aw = nil
	}
	if w.ar != nil {
		w.ar.Close()
		w.ar = nil
	}
	return err
}

// writer returns the archive writer, reopening it (recovery) after a
// failure. failed is the writer that failed, if any.
func (w *Watcher) writer(failed *archive.Writer) (*archive.Writer, error) {
	w.amu.Lock()
	defer w.amu.Unlock()
	if w.ar == nil {
		return nil, newError(ReasonArchiveFailed, "append", w.cfg.Archive, errArchiveClosed)
	}
	if w.aw != nil && w.aw != failed {
		return w.aw, nil
	}
	if w.aw != nil {
		w.aw.Close() // its error is the failure already reported
		w.aw = nil
	}
	aw, err := archive.OpenWriter(w.cfg.Archive, w.archiveOptions())
	if err != nil {
		if archive.ReasonOf(err) == archive.ReasonIO {
			return nil, newError(ReasonArchiveFailed, "reopen archive", w.cfg.Archive, err)
		}
		return nil, newError(ReasonArchive, "reopen archive", w.cfg.Archive, err)
	}
	// Recovery may have completed an append that reported an error: the
	// state must know it before anything else is appended.
	if err := w.st.sync(w.ar); err != nil {
		aw.Close()
		return nil, err
	}
	w.aw = aw
	w.log.Info("reopened the archive for appending", "archive", w.cfg.Archive, "entries", aw.Size())
	return aw, nil
}

// process checks one stable file and seals it when it is complete and not
// archived yet. It runs on a worker goroutine.
func (w *Watcher) process(ctx context.Context, j *job) (outcome, StatKey, error) {
	f, err := j.src.open(j.rel)
	if err != nil {
		if fi, lerr := os.Lstat(j.path); isEscape(err) || lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			w.m.countSkip(skipSymlink)
			return outDone, j.key, nil
		}
		r := sourceErrorReason(err)
		if r == ReasonVanished {
			return outVanished, j.key, nil
		}
		return w.fail(j, r, "open", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return w.fail(j, ReasonUnreadable, "stat", err)
	}
	key := statKeyOf(fi)
	if !fi.Mode().IsRegular() {
		return outDone, key, nil
	}
	if key != j.key {
		return outChanged, key, nil
	}
	if w.st.known(j.name, key) {
		return outDone, key, nil
	}
	c, err := CheckComplete(f, fi.Size())
	if err != nil {
		return w.fail(j, ReasonUnreadable, "read", err)
	}
	switch c.Status {
	case NotTimeline:
		w.m.countSkip(skipNotTimeline)
		w.log.Info("not a timeline file: ignored until it changes", "path", j.path, "detail", c.Detail)
		return outRejected, key, nil
	case TooLarge:
		return w.reject(j, key, ReasonTooLarge, c.Detail)
	case Sealed:
		return w.alreadySealed(j, f, key)
	case Incomplete:
		if !j.asIs {
			w.log.Debug("not complete yet", "path", j.path, "detail", c.Detail)
			return outIncomplete, key, nil
		}
	}
	var sum string // SHA-256 of the file, computed only when needed
	for attempt := 0; ; attempt++ {
		if err := w.gate.wait(ctx); err != nil {
			return outRetry, key, nil // shutting down
		}
		if err := w.signerGate.wait(ctx); err != nil {
			return outRetry, key, nil
		}
		if attempt > 0 {
			if fi, err := f.Stat(); err != nil || statKeyOf(fi) != key {
				return outChanged, key, nil
			}
		}
		prev := w.st.get(j.name)
		if prev != nil && prev.Size == fi.Size() {
			if sum == "" {
				if sum, err = hashFile(f, fi.Size()); err != nil {
					return w.fail(j, ReasonUnreadable, "read", err)
				}
			}
			if sum == prev.SHA256 {
				return w.archivedAlready(j, f, key, prev)
			}
		}
		aw, err := w.writer(nil)
		if err != nil {
			if ReasonOf(err) == ReasonArchive {
				return outRetry, key, err
			}
			w.archiveFailed(j, err)
			continue
		}
		start := time.Now()
		srcPath := fdPath(f)
		var notes []archive.Note
		if c.Status != Complete {
			notes = []archive.Note{incompleteNote(start.Sub(j.lastChange), c.Detail)}
		}
		e, err := aw.IngestWithNotes(srcPath, j.name, notes)
		if err != nil {
			r := classifyIngest(err, srcPath)
			// Messages name the file, not its descriptor.
			err = &renamedError{err: err, text: strings.ReplaceAll(err.Error(), srcPath, j.path)}
			switch r {
			case ReasonArchiveFull, ReasonArchiveIO:
				w.archiveFailed(j, newError(r, "append", j.path, err))
				continue
			case ReasonSigner:
				w.signerFailed(j, newError(r, "seal", j.path, err))
				continue
			case ReasonArchiveFailed:
				w.archiveFailed(j, newError(r, "append", j.path, err))
				if _, err := w.writer(aw); err != nil && ReasonOf(err) == ReasonArchive {
					return outRetry, key, err
				}
				continue
			case ReasonArchive:
				return outRetry, key, newError(r, "append", j.path, err)
			case ReasonChanged:
				w.log.Debug("the file changed while it was sealed: waiting for it again", "path", j.path)
				return outChanged, key, nil
			case ReasonVanished:
				return outVanished, key, nil
			case ReasonAlreadySealed:
				return w.alreadySealed(j, f, key)
			}
			if r.retryable() {
				return w.fail(j, r, "seal", err)
			}
			return w.reject(j, key, r, err.Error())
		}
		if w.gate.ok() {
			w.log.Info("the archive accepts appends again", "archive", w.cfg.Archive)
		}
		if w.signerGate.ok() {
			w.log.Info("the signing key signs again: sealing resumes", "path", j.path)
		}
		if w.cfg.SealTimestamp != nil {
			stamped := true
			for _, n := range e.Notes {
				if n.Code == archive.CodeTimestampMissing {
					stamped = false
					w.log.Warn("sealed without its timestamp token: the TSA failed", "path", j.path, "seq", e.Seq, "err", n.Message)
				}
			}
			w.m.countTimestamp(tsKindSeal, stamped)
		}
		w.sealed(j, f, key, c, prev, e, start)
		if w.cfg.InPlace {
			if err := w.inPlace(j, key, e, e.EnvelopeSHA256()); err != nil {
				return w.fail(j, ReasonInPlace, "in-place", err)
			}
		}
		return outDone, key, nil
	}
}

// archiveFailed reports an append that failed on the archive's side and
// closes the gate.
func (w *Watcher) archiveFailed(j *job, err error) {
	r := ReasonOf(err)
	w.m.countError(r)
	d := w.gate.fail()
	w.log.Error("appending to the archive failed: holding back appends and retrying", "path", j.path, "reason", r, "retryIn", d.String(), "err", err)
}

// signerFailed reports a signing key that did not sign (a token removed or
// restarted, an external signer failing) and holds back sealing.
func (w *Watcher) signerFailed(j *job, err error) {
	w.m.countError(ReasonSigner)
	d := w.signerGate.fail()
	w.log.Error("the signing key did not sign: holding back sealing and retrying; the files wait in their source", "path", j.path, "reason", ReasonSigner, "retryIn", d.String(), "err", err)
}

// sealed records a successful append.
func (w *Watcher) sealed(j *job, f *os.File, key StatKey, c Completeness, prev *version, e *archive.Entry, start time.Time) {
	now := time.Now()
	var src *StatKey
	if fi, err := f.Stat(); err == nil && statKeyOf(fi) == key {
		src = &key
	}
	if !w.st.recorded(e, src) {
		if err := w.syncState(); err != nil {
			w.log.Warn("reading the archive's log", "err", err)
		}
		w.st.recorded(e, src)
	}
	if w.onSealed != nil {
		w.onSealed(j.name, now)
	}
	kind := "json"
	if e.Envelope != nil && e.Envelope.Kind == timeline.KindRIFF {
		kind = "riff"
	}
	size := key.Size
	lat := now.Sub(j.lastChange)
	w.m.with(func(m *metrics) {
		m.sealed[kind]++
		m.bytes += uint64(size)
		m.lastSeal = now
		m.archiveEntries = max(m.archiveEntries, e.Seq)
		m.latency.observe(lat.Seconds())
		m.ingest.observe(now.Sub(start).Seconds())
		if prev != nil {
			m.resealed++
		}
		if c.Status != Complete {
			m.incompleteSealed++
		}
	})
	attrs := []any{"path", j.path, "name", j.name, "seq", e.Seq, "archiveName", e.ArchiveName, "kind", kind, "bytes", size,
		"latencySeconds", lat.Round(time.Millisecond).Seconds()}
	if prev != nil {
		w.log.Warn("the file changed after it was sealed: sealed again as a new archive entry",
			append(attrs, "previousSeq", prev.Seq, "previousSha256", prev.SHA256)...)
	} else {
		w.log.Info("sealed", attrs...)
	}
	// The warning of a file sealed as it was is in its log record
	// (IngestWithNotes); this is for operators reading the log.
	for _, n := range e.Notes {
		w.log.Warn(n.Message, "path", j.path, "seq", e.Seq, "code", n.Code)
	}
}

// syncState brings the state up to date with the archive's log. The
// reader is only used under amu.
func (w *Watcher) syncState() error {
	w.amu.Lock()
	defer w.amu.Unlock()
	if w.ar == nil {
		return errArchiveClosed
	}
	return w.st.sync(w.ar)
}

// archivedAlready handles a file whose content is the latest archived
// version of its name.
func (w *Watcher) archivedAlready(j *job, f *os.File, key StatKey, v *version) (outcome, StatKey, error) {
	w.st.setSource(j.name, v.SHA256, key)
	w.m.countSkip(skipArchived)
	w.log.Debug("already archived", "path", j.path, "seq", v.Seq)
	if w.cfg.InPlace {
		// A crash came between the append and the replacement.
		if err := w.inPlace(j, key, &archive.Entry{ArchiveName: v.ArchiveName}, v.Env); err != nil {
			return w.fail(j, ReasonInPlace, "in-place", err)
		}
	}
	return outDone, key, nil
}

// alreadySealed handles a file that carries a seal: the in-place sealed copy
// of an archived version (nothing to do), or a seal this archive did not
// make (it cannot be sealed again).
func (w *Watcher) alreadySealed(j *job, f *os.File, key StatKey) (outcome, StatKey, error) {
	o, err := timeline.Open(f, key.Size)
	if err != nil {
		return w.fail(j, ReasonUnreadable, "read", err)
	}
	if o.Envelope != nil && o.Envelope.Chain != nil {
		sum := sha256.Sum256(o.EnvelopeBytes)
		env := hex.EncodeToString(sum[:])
		if v := w.st.get(j.name); v != nil && v.Env == env {
			w.st.setSealed(j.name, env, key)
			w.m.countSkip(skipInPlace)
			return outDone, key, nil
		}
		if w.logged(o.Envelope.Chain, env) {
			w.m.countSkip(skipInPlace)
			return outDone, key, nil
		}
	}
	// Evidence sealed elsewhere: skipped (once), not an error of the
	// watcher's; not looked at again until it changes.
	w.m.countSkip(skipSealed)
	w.log.Warn("skipped: the file already carries a seal this archive did not make; it is not archived", "path", j.path, "reason", ReasonAlreadySealed)
	return outRejected, key, nil
}

// logged reports whether the archive's entry chain.seq holds the envelope.
func (w *Watcher) logged(c *timeline.Chain, env string) bool {
	w.amu.Lock()
	defer w.amu.Unlock()
	if w.ar == nil || c.Seq < 1 || c.ID != w.ar.Metadata().ChainID {
		return false
	}
	if c.Seq > w.ar.Size() {
		w.ar.Refresh()
	}
	e, err := w.ar.Entry(c.Seq - 1)
	return err == nil && e.EnvelopeSHA256() == env
}

// inPlace replaces the source file by the archived sealed copy of entry e,
// atomically, if the source still is what was sealed. (e.SealedSize, when
// known, is checked against the archived file's.)
func (w *Watcher) inPlace(j *job, key StatKey, e *archive.Entry, env string) error {
	w.amu.Lock()
	ar := w.ar
	w.amu.Unlock()
	if ar == nil {
		return errArchiveClosed
	}
	// From the archive's storage: a file on disk or an object of the
	// bucket (read back once; the watcher keeps no copy of its own).
	sealed, err := ar.OpenFile(e)
	if err != nil {
		return err
	}
	defer sealed.Close()
	fi, err := os.Lstat(j.path)
	if err != nil {
		return err
	}
	out, err := atomicfile.Create(j.path, fi.Mode().Perm())
	if err != nil {
		return err
	}
	defer out.Abort()
	keepOwner(out.File, fi)
	if _, err := io.Copy(out, io.NewSectionReader(sealed, 0, sealed.Size())); err != nil {
		return err
	}
	if err := checkSealedCopy(out.File, sealed.Size(), env); err != nil {
		return err
	}
	// The last look: a writer that came back since is not overwritten (its
	// new content will be sealed as a new version).
	if fi, err := os.Lstat(j.path); err != nil || statKeyOf(fi) != key {
		return errChangedBeforeReplace
	}
	if err := out.Commit(true); err != nil {
		return err
	}
	if fi, err := os.Lstat(j.path); err == nil {
		w.st.setSealed(j.name, env, statKeyOf(fi))
	}
	w.log.Info("replaced the source by its sealed copy", "path", j.path, "archiveName", e.ArchiveName)
	return nil
}

// checkSealedCopy reads back the sealed copy about to replace a source:
// the source goes for good, so the copy must carry the very envelope the
// archive logged for it (env: hex SHA-256 of the envelope bytes), and hold
// the content that envelope's digest names. A copy damaged in the archive,
// in transit or by the file system, or another file's sealed copy, is
// refused and the source kept. Other problems of the original (a cut
// recording's header sizes) are the source's own.
func checkSealedCopy(f *os.File, size int64, env string) error {
	o, err := timeline.Open(f, size)
	if err != nil {
		return fmt.Errorf("reading the sealed copy back: %w", err)
	}
	if o.Envelope == nil || !o.HasOriginal || o.Has(timeline.CodeDigestMismatch) {
		return fmt.Errorf("%w: %v", errBadSealedCopy, o.Problems)
	}
	if sum := sha256.Sum256(o.EnvelopeBytes); hex.EncodeToString(sum[:]) != env {
		return fmt.Errorf("%w: its envelope is not the one the archive logged", errBadSealedCopy)
	}
	return nil
}

var (
	errBadSealedCopy        = errors.New("the sealed copy does not hold the content its seal names: the source is kept")
	errChangedBeforeReplace = errors.New("the source changed before it could be replaced by its sealed copy")
	errArchiveClosed        = errors.New("the archive is closed (shutting down)")
)

// fail reports a retryable error about a file.
func (w *Watcher) fail(j *job, r Reason, op string, err error) (outcome, StatKey, error) {
	if errors.Is(err, errChangedBeforeReplace) {
		w.log.Info("the source changed before it was replaced by its sealed copy: its new content will be sealed", "path", j.path)
		return outChanged, j.key, nil
	}
	w.m.countError(r)
	level := slog.LevelError
	if j.attempt > 0 {
		level = slog.LevelWarn // reported already; still failing
	}
	w.log.Log(context.Background(), level, "cannot "+op+" the file: retrying with backoff", "path", j.path, "reason", r, "attempt", j.attempt+1, "err", err)
	return outRetry, j.key, nil
}

// reject reports a file that cannot be sealed as it is.
func (w *Watcher) reject(j *job, key StatKey, r Reason, detail string) (outcome, StatKey, error) {
	w.m.countError(r)
	w.log.Error("cannot seal the file: not retried until it changes", "path", j.path, "reason", r, "detail", detail)
	return outRejected, key, nil
}

// isEscape reports os.Root refusing a path that leads outside the root.
func isEscape(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == "path escapes from parent"
}

// hashFile is the hex SHA-256 of the first size bytes of f.
func hashFile(f *os.File, size int64) (string, error) {
	h := sha256.New()
	n, err := io.Copy(h, io.NewSectionReader(f, 0, size))
	if err != nil {
		return "", err
	}
	if n != size {
		return "", io.ErrUnexpectedEOF
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fdPath names the open file so that opening the name again opens the same
// file (Linux: /proc/self/fd/N), whatever happened to its path since.
func fdPath(f *os.File) string {
	if procFD() {
		return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	}
	return f.Name()
}

var procFD = sync.OnceValue(func() bool {
	if runtime.GOOS != "linux" {
		return false
	}
	_, err := os.Stat("/proc/self/fd/0")
	return err == nil
})

// renamedError is an error whose message names the file by its path.
type renamedError struct {
	err  error
	text string
}

func (e *renamedError) Error() string { return e.text }
func (e *renamedError) Unwrap() error { return e.err }
