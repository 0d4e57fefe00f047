package archive

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/internal/atomicfile"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/tsa"
)

// Checkpoint timestamps (seal format v2, docs/archive.md "Checkpoint
// timestamps"): beside a checkpoint the archive may keep an RFC 3161 token
// whose message imprint is the SHA-256 of that checkpoint's complete signed
// note. Since the latest checkpoint is overwritten by the next, a stamped
// checkpoint is kept in checkpoints/ with its token:
//
//	checkpoints/<size>.note   the signed note of the checkpoint of that size
//	checkpoints/<size>.tst    the DER TimeStampToken over SHA-256(note)
//
// A note without its token is a checkpoint whose TSA request failed (the
// watcher never waits for a TSA): tlseal timestamp completes it later.
const stampsDir = "checkpoints"

// Problem codes of checkpoint timestamps, the same codes as a seal's token
// (docs/findings.md).
const (
	CodeTimestampInvalid         = "timestamp.invalid"
	CodeTimestampImprintMismatch = "timestamp.imprintMismatch"
	CodeTimestampUntrusted       = "timestamp.untrusted"
	CodeTimestampMissing         = "timestamp.missing"
)

// Timestamper obtains an RFC 3161 TimeStampToken (DER, the CMS SignedData)
// whose message imprint is digest, a SHA-256.
type Timestamper func(ctx context.Context, digest []byte) ([]byte, error)

// DefaultTimestampWait is how long Close waits for the final checkpoint's
// token when Options.TimestampWait is 0.
const DefaultTimestampWait = 30 * time.Second

func stampNoteName(size int64) string  { return stampsDir + "/" + strconv.FormatInt(size, 10) + ".note" }
func stampTokenName(size int64) string { return stampsDir + "/" + strconv.FormatInt(size, 10) + ".tst" }

// parseStampName splits "<size>.note" or "<size>.tst"; the size is
// canonical decimal (no sign, no leading zero).
func parseStampName(name string) (size int64, ext string, ok bool) {
	base, ext, found := strings.Cut(name, ".")
	if !found || (ext != "note" && ext != "tst") || base == "" || len(base) > 19 || base != "0" && base[0] == '0' {
		return 0, "", false
	}
	for _, c := range base {
		if c < '0' || c > '9' {
			return 0, "", false
		}
	}
	n, err := strconv.ParseInt(base, 10, 64)
	return n, ext, err == nil
}

// stamper obtains the tokens of a Writer's checkpoints in the background,
// one request at a time, so that a slow or dead TSA never holds up an
// append. A checkpoint written while a request is under way waits; when a
// newer one comes before it is sent, only the newer is stamped (it covers
// every entry the older did).
type stamper struct {
	dir    string
	put    func(name string, data []byte) error // Writer.writeLayoutFile
	ts     Timestamper
	done   func(size int64, err error)
	mu     sync.Mutex
	next   *stampJob // waiting
	wake   chan struct{}
	idle   chan struct{} // closed when nothing waits or runs; remade on work
	isIdle bool          // idle is closed
	stop   context.CancelFunc
	ctx    context.Context
	exit   chan struct{}
	quit   bool
	lastN  int64 // the size of the newest checkpoint stamped or sent
}

type stampJob struct {
	size int64
	note []byte
}

func newStamper(dir string, ts Timestamper, put func(string, []byte) error, done func(int64, error)) *stamper {
	ctx, cancel := context.WithCancel(context.Background())
	s := &stamper{dir: dir, ts: ts, put: put, done: done, wake: make(chan struct{}, 1), idle: make(chan struct{}),
		ctx: ctx, stop: cancel, exit: make(chan struct{})}
	close(s.idle)
	s.isIdle = true
	go s.run()
	return s
}

// submit queues a checkpoint for stamping (replacing one still waiting).
func (s *stamper) submit(size int64, note []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quit || size <= s.lastN && s.lastN > 0 {
		return
	}
	if s.isIdle {
		s.idle, s.isIdle = make(chan struct{}), false
	}
	s.next = &stampJob{size: size, note: note}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *stamper) run() {
	defer close(s.exit)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			job := s.next
			s.next = nil
			if job == nil {
				if !s.isIdle {
					close(s.idle)
					s.isIdle = true
				}
				s.mu.Unlock()
				break
			}
			s.lastN = job.size
			s.mu.Unlock()
			err := stampCheckpoint(s.ctx, s.dir, job.size, job.note, s.ts, s.put)
			if s.done != nil {
				s.done(job.size, err)
			}
		}
	}
}

// close waits up to wait for the waiting and running requests, then
// cancels what is left.
func (s *stamper) close(wait time.Duration) {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	t := time.NewTimer(wait)
	select {
	case <-idle:
	case <-t.C:
	}
	t.Stop()
	s.mu.Lock()
	s.quit = true
	s.mu.Unlock()
	s.stop()
	<-s.exit
}

// stampCheckpoint keeps the checkpoint's note in checkpoints/ and asks the
// TSA for its token. The note is written first: when the request fails,
// the note stays without a token (audits report timestamp.missing, tlseal
// timestamp completes it). An existing token is never replaced. put
// writes a new file of the layout once (Writer.writeLayoutFile; nil: on
// disk, for Timestamp, which holds the archive's lock).
func stampCheckpoint(ctx context.Context, dir string, size int64, note []byte, ts Timestamper, put func(string, []byte) error) error {
	if put == nil {
		put = func(name string, data []byte) error { return writeFileOnce(dir, name, data) }
	}
	if _, err := readLimitedIn(dir, stampTokenName(size), timeline.MaxTokenSize); err == nil {
		return nil
	}
	if old, err := readLimitedIn(dir, stampNoteName(size), maxCheckpointLen); err == nil {
		note = old // stamp the note kept, which a token may not cover yet
	} else if err := put(stampNoteName(size), note); err != nil {
		return err
	}
	sum := sha256.Sum256(note)
	tok, err := ts(ctx, sum[:])
	if err != nil {
		return fmt.Errorf("timestamping checkpoint %d: %w", size, err)
	}
	if len(tok) > timeline.MaxTokenSize {
		return fmt.Errorf("timestamping checkpoint %d: the token is %d bytes (at most %d)", size, len(tok), timeline.MaxTokenSize)
	}
	return put(stampTokenName(size), tok)
}

// writeFileOnce is Writer.writeLayoutFile on disk without a Writer.
func writeFileOnce(dir, name string, data []byte) error {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := mkdirDurable(dir, filepath.Dir(p)); err != nil {
		return errorf(ReasonIO, p, err, "")
	}
	if err := atomicfile.WriteFile(p, data, 0o444, false); err != nil && !errors.Is(err, fs.ErrExist) {
		return errorf(ReasonIO, p, err, "")
	}
	return nil
}

// sealTimestampHook is the timeline.SealOptions.Timestamp of an ingest
// (nil without Options.SealTimestamp). In best-effort mode a TSA failure
// is put in *failed and the file sealed without a token.
func (w *Writer) sealTimestampHook(failed *error) func(sig []byte) ([]byte, error) {
	if w.opts.SealTimestamp == nil {
		return nil
	}
	return func(sig []byte) ([]byte, error) {
		if !w.opts.SealTimestampBestEffort {
			return w.opts.SealTimestamp(sig)
		}
		if err := w.tsaOff.skip(time.Now()); err != nil {
			*failed = err
			return nil, nil
		}
		tok, err := w.opts.SealTimestamp(sig)
		w.tsaOff.outcome(time.Now(), err)
		if err != nil {
			*failed = err
			return nil, nil
		}
		return tok, nil
	}
}

// withTimestampMissing adds the note of a seal made without its token.
func withTimestampMissing(notes []Note, err error) []Note {
	return append(slices.Clip(notes), Note{Code: CodeTimestampMissing, Severity: NoteWarning,
		Message: "sealed without its timestamp token: " + err.Error()})
}

// StampResult is what Timestamp did for one checkpoint.
type StampResult struct {
	Size int64
	Err  error // nil: the token is stored
}

// Timestamp adds tokens to the archive's checkpoints that lack one: the
// latest checkpoint and every note in checkpoints/ kept without its token
// (tlseal timestamp). It never changes a sealed file or the log. It takes
// the archive's lock (on object storage, the writer's lease), so it
// refuses while a writer appends (the watcher stamps its own checkpoints).
// On object storage the notes and tokens it writes carry the archive's
// retention, as the writer's do.
func Timestamp(ctx context.Context, dir string, ts Timestamper) ([]StampResult, error) {
	meta, err := ReadMetadata(dir)
	if err != nil {
		return nil, err
	}
	var put func(name string, data []byte) error // nil: on disk
	var renew func() error
	if isRemote(dir) {
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
		defer lease.release()
		put = func(name string, data []byte) error { return st.putBytesOnce(name, data, ret, time.Now()) }
		renew = lease.renew
	} else {
		unlock, err := lockDir(dir)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	keys, _, _, err := readAcceptedKeys(dir, meta.Origin)
	if err != nil {
		return nil, errorf(ReasonCorrupt, layoutPath(dir, keysDir), err, "")
	}
	cp, _, err := readCheckpoint(dir, meta.Origin, keys)
	if err != nil {
		return nil, errorf(ReasonCorrupt, layoutPath(dir, checkpointFile), err, "the checkpoint does not verify: it is not timestamped")
	}
	todo := map[int64][]byte{}
	sizes, _, err := listStamps(dir)
	if err != nil {
		return nil, err
	}
	for _, st := range sizes {
		if st.note && !st.token {
			note, err := readLimitedIn(dir, stampNoteName(st.size), maxCheckpointLen)
			if err != nil {
				return nil, errorf(ReasonIO, layoutPath(dir, stampNoteName(st.size)), err, "")
			}
			todo[st.size] = note
		}
	}
	if cp != nil && cp.Size > 0 { // a checkpoint of no entries vouches for none
		i := slices.IndexFunc(sizes, func(s stampFiles) bool { return s.size == cp.Size })
		if i < 0 || !sizes[i].token {
			if _, kept := todo[cp.Size]; !kept {
				todo[cp.Size] = cp.Note
			}
		}
	}
	var out []StampResult
	for _, size := range slices.Sorted(maps.Keys(todo)) {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if renew != nil {
			// A TSA that answers slowly must not let the lease lapse
			// while this run still writes.
			if err := renew(); err != nil {
				return out, err
			}
		}
		out = append(out, StampResult{Size: size, Err: stampCheckpoint(ctx, dir, size, todo[size], ts, put)})
	}
	return out, nil
}

type stampFiles struct {
	size        int64
	note, token bool
}

// listStamps lists checkpoints/ by size, and the names in it that are not
// <size>.note or <size>.tst (nor a crash's temporary file).
func listStamps(dir string) (_ []stampFiles, bad []string, _ error) {
	type entry struct {
		name    string
		regular bool
	}
	var ents []entry
	if isRemote(dir) {
		names, err := listArchiveDir(dir, stampsDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, errorf(ReasonIO, layoutPath(dir, stampsDir), err, "")
		}
		for _, n := range names {
			ents = append(ents, entry{n, true}) // objects are files
		}
	} else {
		des, err := os.ReadDir(filepath.Join(dir, stampsDir))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, errorf(ReasonIO, filepath.Join(dir, stampsDir), err, "")
		}
		for _, de := range des {
			ents = append(ents, entry{de.Name(), de.Type().IsRegular()})
		}
	}
	by := map[int64]*stampFiles{}
	for _, de := range ents {
		name := de.name
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") {
			continue // an atomicfile temporary left by a crash
		}
		size, ext, ok := parseStampName(name)
		if !ok || !de.regular {
			bad = append(bad, name)
			continue
		}
		st := by[size]
		if st == nil {
			st = &stampFiles{size: size}
			by[size] = st
		}
		if ext == "note" {
			st.note = true
		} else {
			st.token = true
		}
	}
	var out []stampFiles
	for _, size := range slices.Sorted(maps.Keys(by)) {
		out = append(out, *by[size])
	}
	return out, bad, nil
}

// Stamp is a checkpoint timestamp that held in Check: every entry with
// seq ≤ Size existed by GenTime (within Accuracy).
type Stamp struct {
	Size     int64
	GenTime  time.Time
	Accuracy time.Duration
	Token    *tsa.Token
}

// Source names the trusted time a stamp gives, as reports show it.
func (s *Stamp) Source() string { return "checkpoint " + strconv.FormatInt(s.Size, 10) }

// stamps reads and judges checkpoints/ (called by checkpoint, before the
// scan, so that each entry is judged with its "existed by" time): each
// note must verify with the archive's keys and its root must be the log's
// at its size, each token must be over its note and from a trusted TSA.
func (c *checker) stamps(keys map[uint32]*CheckpointKey) {
	list, bad, err := listStamps(c.dir)
	if err != nil {
		c.add(CodeCheckpointInvalid, 0, stampsDir, "%v", err)
		return
	}
	for _, n := range bad {
		c.add(CodeCheckpointInvalid, 0, stampsDir+"/"+n, "not a checkpoint note (<size>.note) or token (<size>.tst)")
	}
	for _, st := range list {
		noteName, tokName := stampNoteName(st.size), stampTokenName(st.size)
		if !st.note {
			c.add(CodeTimestampInvalid, 0, tokName, "a token without its checkpoint note %s: it vouches for nothing", noteName)
			continue
		}
		note, err := readLimitedIn(c.dir, noteName, maxCheckpointLen)
		if err != nil {
			c.add(CodeCheckpointInvalid, 0, noteName, "%v", err)
			continue
		}
		cp, err := openWithKeys(note, c.meta.Origin, keys)
		if err != nil {
			c.add(CodeCheckpointInvalid, 0, noteName, "%s", strings.TrimPrefix(err.Error(), "checkpoint: "))
			continue
		}
		if cp.Size != st.size {
			c.add(CodeCheckpointInvalid, 0, noteName, "the note is the checkpoint of %d entries, not %d as its name says", cp.Size, st.size)
			continue
		}
		if root, err := tlog.TreeHash(cp.Size, c.l); err != nil {
			c.add(CodeCheckpointInvalid, 0, noteName, "the log holds no tree of %d entries: %v", cp.Size, err)
			continue
		} else if root != cp.Root {
			c.add(CodeRootMismatch, 0, noteName, "the root of the first %d entries in log/hashes is %x, this checkpoint's is %x", cp.Size, root[:8], cp.Root[:8])
			continue
		}
		c.stampRoots = append(c.stampRoots, stampRoot{cp.Size, cp.Root, noteName})
		if !st.token {
			c.add(CodeTimestampMissing, 0, noteName, "checkpoint %d has no timestamp token (its TSA request failed): run tlseal timestamp on the archive", cp.Size)
			continue
		}
		der, err := readLimitedIn(c.dir, tokName, timeline.MaxTokenSize)
		if err != nil {
			c.add(CodeTimestampInvalid, 0, tokName, "%v", err)
			continue
		}
		tok, err := tsa.Parse(der)
		if err != nil {
			c.add(CodeTimestampInvalid, 0, tokName, "the token does not parse: %v", err)
			continue
		}
		err = tok.Verify(tsa.VerifyOptions{Data: note, Roots: c.opts.TSARoots})
		switch tsa.ReasonOf(err) {
		case tsa.ReasonUnknown:
			if err != nil {
				c.add(CodeTimestampInvalid, 0, tokName, "%v", err)
				continue
			}
		case tsa.ReasonImprintMismatch:
			c.add(CodeTimestampImprintMismatch, 0, tokName, "the token is not over checkpoint %d's note: %v", cp.Size, err)
			continue
		case tsa.ReasonUntrusted, tsa.ReasonNoCertificate:
			c.add(CodeTimestampUntrusted, 0, tokName, "checkpoint %d's timestamp cannot be trusted: %v", cp.Size, err)
			continue
		default:
			c.add(CodeTimestampInvalid, 0, tokName, "%v", err)
			continue
		}
		c.res.Stamps = append(c.res.Stamps, &Stamp{Size: cp.Size, GenTime: tok.GenTime, Accuracy: tok.Accuracy, Token: tok})
	}
	// existedBy[i] is the earliest stamp of those from i on (sizes grow).
	c.existedBy = make([]*Stamp, len(c.res.Stamps))
	var best *Stamp
	for i := len(c.res.Stamps) - 1; i >= 0; i-- {
		if s := c.res.Stamps[i]; best == nil || s.GenTime.Before(best.GenTime) {
			best = s
		}
		c.existedBy[i] = best
	}
}

// stampFor is the earliest stamp that covers entry seq (Stamps are in
// size order; seq grows from one call to the next).
func (c *checker) stampFor(seq int64) *Stamp {
	for c.nextStamp < len(c.res.Stamps) && c.res.Stamps[c.nextStamp].Size < seq {
		c.nextStamp++
	}
	if c.nextStamp < len(c.existedBy) {
		return c.existedBy[c.nextStamp]
	}
	return nil
}

// stampRoot is a kept checkpoint's root, checked again against the tree
// the scan recomputes from log/entries.
type stampRoot struct {
	size int64
	root tlog.Hash
	name string
}

func openWithKeys(note []byte, origin string, keys map[uint32]*CheckpointKey) (*Checkpoint, error) {
	parsed, err := ParseCheckpoint(note)
	if err != nil {
		return nil, err
	}
	k := keys[parsed.KeyHash]
	if k == nil {
		return nil, cpErr(ReasonBadSignature, nil, "signed by key %08x, which is not one of the archive's checkpoint keys", parsed.KeyHash)
	}
	return OpenCheckpoint(note, origin, k.Cert.PublicKey)
}

// sealTSABreaker holds back per-seal TSA requests after a failure, in
// best-effort mode: 5 s, doubling after each failure to 5 min, reset by a
// success.
type sealTSABreaker struct {
	until   time.Time
	backoff time.Duration
	last    error
}

func (b *sealTSABreaker) skip(now time.Time) error {
	if now.Before(b.until) {
		return fmt.Errorf("the TSA failed %v ago and is not asked again before %s: %w", b.backoff-b.until.Sub(now).Round(time.Second), b.until.UTC().Format(time.RFC3339), b.last)
	}
	return nil
}

func (b *sealTSABreaker) outcome(now time.Time, err error) {
	if err == nil {
		b.backoff, b.until, b.last = 0, time.Time{}, nil
		return
	}
	b.backoff = min(max(2*b.backoff, 5*time.Second), 5*time.Minute)
	b.until, b.last = now.Add(b.backoff), err
}
