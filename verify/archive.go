package verify

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/timeline"
)

// Shard selects a deterministic part of an archive: entry i (0-based) is
// in shard I of N when i mod N = I. Archive-wide findings and unlisted
// files belong to shard 0, so that merged shard reports equal a single run.
type Shard struct{ I, N int }

// ShardInfo is how a report names its shard: index I of N.
type ShardInfo struct {
	Index int `json:"index"`
	Of    int `json:"of"`
}

// Owns reports whether the shard holds entry index i.
func (s Shard) Owns(i int64) bool { return s.N <= 1 || i%int64(s.N) == int64(s.I) }

// ArchiveOptions tune an archive audit.
type ArchiveOptions struct {
	// Witness is a checkpoint saved by an earlier audit (a signed note);
	// the log must extend it.
	Witness []byte
	Jobs    int
	Shard   Shard
	// Names, when not nil, limits the file checks to the entries with
	// these archive names (paths under files/, '/'-separated) or source
	// names. An empty list, or a name that matches no entry, is a
	// *SelectionError (nothing was judged) unless AllowMissingNames: a
	// typo must not turn into a clean audit of nothing.
	Names             []string
	AllowMissingNames bool
	// OnItem is called for each sealed file as soon as it is judged (from
	// several goroutines), before log findings are added: progress only.
	OnItem func(*ItemResult)
	// Spool keeps the items in a temporary file instead of memory, so that
	// an audit's memory does not grow with the archive: the result's Items
	// stay nil, EachItem reads them back (as often as needed) and Close
	// removes the file. SpoolDir is where (default: os.TempDir()).
	Spool    bool
	SpoolDir string
}

// ItemCounts counts an audit's items by verdict, with their sealed bytes.
type ItemCounts struct {
	Items, Passed, Failed, Indeterminate, Skipped int
	Warnings                                      int // warning findings of the items
	Bytes                                         int64
}

// Add counts an item (n = 1) or takes it back (n = -1).
func (c *ItemCounts) Add(it *ItemResult, n int) {
	c.Items += n
	c.Bytes += int64(n) * it.Size
	c.Warnings += n * Warnings(it.Findings)
	switch it.Verdict {
	case Passed:
		c.Passed += n
	case Failed:
		c.Failed += n
	case Skipped:
		c.Skipped += n
	default:
		c.Indeterminate += n
	}
}

// Verdicts are the verdicts present among the counted items.
func (c ItemCounts) Verdicts() []Verdict {
	var vs []Verdict
	for v, n := range map[Verdict]int{Passed: c.Passed, Failed: c.Failed, Indeterminate: c.Indeterminate} {
		if n > 0 {
			vs = append(vs, v)
		}
	}
	return vs
}

// CheckpointInfo is how a report names a checkpoint.
type CheckpointInfo struct {
	Size int64  `json:"size"`
	Root string `json:"root"` // base64, as in the checkpoint
}

// ArchiveResult is the judgement of an archive: the archive-wide findings
// and one item per entry checked (and per file no entry lists).
type ArchiveResult struct {
	Dir        string          `json:"-"`
	ChainID    string          `json:"chainId"`
	Origin     string          `json:"origin"`
	Entries    int64           `json:"entries"`
	Checkpoint *CheckpointInfo `json:"checkpoint,omitempty"`
	Witness    *CheckpointInfo `json:"witness,omitempty"`
	Shard      *ShardInfo      `json:"shard,omitempty"` // the part audited, when not all
	// Timestamps are the checkpoint timestamps that held, in size order.
	Timestamps []CheckpointTimestamp `json:"timestamps,omitempty"`
	Findings   []Finding             `json:"findings"`
	Verdict    Verdict               `json:"verdict"`

	// Items are the items in log order, then the files no entry lists
	// (nil with ArchiveOptions.Spool: see EachItem).
	Items    []*ItemResult `json:"-"`
	Counts   ItemCounts    `json:"-"` // the items' verdicts and bytes
	Missing  int           `json:"-"` // entries whose file is gone
	Unlisted int           `json:"-"` // files no entry lists
	// CheckpointNote is the signed checkpoint as found (for --update-witness).
	CheckpointNote []byte `json:"-"`

	spool *itemSpool
}

// Spooled reports whether the items are in a spool file (EachItem) rather
// than in Items.
func (r *ArchiveResult) Spooled() bool { return r.spool != nil }

// EachItem calls yield for every item, in the order of Items, until yield
// returns false. Spooled items are read back from their file (a new value
// each time); the error is for failures to read it.
func (r *ArchiveResult) EachItem(yield func(*ItemResult) bool) error {
	if r.spool == nil {
		for _, it := range r.Items {
			if !yield(it) {
				return nil
			}
		}
		return nil
	}
	return r.spool.each(yield)
}

// Close removes the spool file, if any.
func (r *ArchiveResult) Close() error {
	if r.spool == nil {
		return nil
	}
	return r.spool.close()
}

// Archive audits an evidence archive: the checkpoint (signature, signer
// trust), the Merkle log recomputed against it and the witness, the chain
// links, and every entry against its sealed file, whose seal is judged like
// any file (digest, signature, signer chain at signedAt). The error is for
// failures to read; everything found is a finding.
func Archive(ctx context.Context, dir string, trust *Trust, opts ArchiveOptions) (*ArchiveResult, error) {
	if trust == nil {
		trust = NewTrust(nil)
	}
	res := &ArchiveResult{Dir: dir, Findings: []Finding{}}
	var store itemStore = newMemStore()
	if opts.Spool {
		sp, err := newItemSpool(opts.SpoolDir)
		if err != nil {
			return nil, err
		}
		store, res.spool = sp, sp
	}
	ok := false
	defer func() {
		if !ok {
			res.Close()
		}
	}()
	var names map[string]bool // name → matched an entry
	if opts.Names != nil {
		if len(opts.Names) == 0 {
			return nil, &SelectionError{Empty: true}
		}
		names = make(map[string]bool, len(opts.Names))
		for _, n := range opts.Names {
			names[n] = false
		}
	}
	// selects reports whether a name selection takes the entry, marking
	// the names it matches (called in log order from one goroutine).
	selects := func(e *archive.Entry) bool {
		_, byArchive := names[e.ArchiveName]
		_, bySource := names[e.Name]
		if byArchive {
			names[e.ArchiveName] = true
		}
		if bySource {
			names[e.Name] = true
		}
		return byArchive || bySource
	}
	var mu sync.Mutex // guards res.Counts and storeErr
	var storeErr error
	// The notes of the entries audited (few: only entries that have any),
	// gathered as the log is scanned; they join the problems below, so
	// that an entry whose file is gone shows its notes too.
	var noted []entryFinding
	selected := func(e *archive.Entry) bool {
		if ctx.Err() != nil {
			return false
		}
		// Names are matched on every entry, whatever the shard, so that
		// a name in another shard's part is not "missing".
		if names != nil && !selects(e) {
			return false
		}
		if !opts.Shard.Owns(e.Index) {
			return false
		}
		for _, n := range e.Notes {
			noted = append(noted, entryFinding{e.Seq, "files/" + e.ArchiveName, noteFinding(n)})
		}
		return true
	}
	copts := archive.CheckOptions{
		Witness: opts.Witness,
		Jobs:    opts.Jobs,
		Select:  selected,
		JudgeSeal: func(e *archive.Entry, path string, o *timeline.Opened) {
			it := judgeOpened(o, "files/"+e.ArchiveName, trust, e.ExistedBy)
			it.Opened, it.Cert, it.Wave = nil, nil, nil // keep items small
			it.Entry = e.Seq
			err := store.put(e.Seq, it)
			mu.Lock()
			res.Counts.Add(it, 1)
			if err != nil && storeErr == nil {
				storeErr = err
			}
			mu.Unlock()
			if opts.OnItem != nil {
				opts.OnItem(it)
			}
		},
	}
	if len(trust.Anchors) > 0 {
		copts.Roots = trust.pool
	}
	if len(trust.TSAAnchors) > 0 {
		copts.TSARoots = trust.tsaRoots()
	}
	cr, err := archive.Check(dir, copts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if storeErr != nil {
		return nil, storeErr
	}
	if names != nil && !opts.AllowMissingNames {
		var missing []string
		for _, n := range opts.Names {
			if !names[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return nil, &SelectionError{Missing: missing}
		}
	}
	res.ChainID, res.Origin, res.Entries = cr.Metadata.ChainID, cr.Metadata.Origin, cr.Size
	if opts.Shard.N > 1 {
		res.Shard = &ShardInfo{Index: opts.Shard.I, Of: opts.Shard.N}
	}
	if cp := cr.Checkpoint; cp != nil {
		res.Checkpoint = &CheckpointInfo{Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Root[:])}
		res.CheckpointNote = cp.Note
	}
	for _, st := range cr.Stamps {
		res.Timestamps = append(res.Timestamps, CheckpointTimestamp{Size: st.Size, Token: describeToken(st.Token, nil)})
	}
	if opts.Witness != nil {
		if w, err := archive.ParseCheckpoint(opts.Witness); err == nil {
			res.Witness = &CheckpointInfo{Size: w.Size, Root: base64.StdEncoding.EncodeToString(w.Root[:])}
		}
	}
	if cr.Checkpoint == nil || len(trust.Anchors) == 0 {
		// Without a trust anchor the checkpoint's signer cannot be
		// trusted either.
		if cr.Checkpoint != nil {
			res.Findings = append(res.Findings, NewFinding(archive.CodeCheckpointUntrusted, "no trust anchor is configured (--ca): the checkpoint signer cannot be trusted"))
		}
	}
	var unlisted []*ItemResult
	var cur *ItemResult // the item of the findings being merged, kept until the next seq
	flush := func() error {
		if cur == nil {
			return nil
		}
		cur.Verdict = Judge(cur.Findings)
		res.Counts.Add(cur, 1)
		err := store.put(cur.Entry, cur)
		cur = nil
		return err
	}
	// The findings about entries: the problems Check found, then the
	// notes, merged into their items in seq order.
	var byEntry []entryFinding
	for _, p := range cr.Problems {
		if p.Seq > 0 {
			byEntry = append(byEntry, entryFinding{p.Seq, p.Name, NewFinding(p.Code, "%s", p.Detail)})
		}
	}
	byEntry = append(byEntry, noted...)
	slices.SortStableFunc(byEntry, func(a, b entryFinding) int { return cmp.Compare(a.seq, b.seq) })
	for _, ef := range byEntry {
		if !opts.Shard.Owns(ef.seq - 1) {
			continue
		}
		if cur == nil || cur.Entry != ef.seq {
			if err := flush(); err != nil {
				return nil, err
			}
			it, err := store.get(ef.seq)
			if err != nil {
				return nil, err
			}
			if it == nil {
				if _, named := names[strings.TrimPrefix(ef.name, "files/")]; names != nil && !named {
					continue
				}
				it = &ItemResult{Path: ef.name, Entry: ef.seq, Findings: []Finding{}}
			} else {
				res.Counts.Add(it, -1)
			}
			cur = it
		}
		if ef.f.Code == archive.CodeEntryMissingFile {
			res.Missing++
		}
		if !slices.ContainsFunc(cur.Findings, func(f Finding) bool { return f.Code == ef.f.Code }) {
			cur.Findings = append(cur.Findings, ef.f)
		}
	}
	for _, p := range cr.Problems {
		switch {
		case p.Seq > 0: // merged above
		case p.Code == archive.CodeUnlistedFile:
			if opts.Shard.I != 0 || names != nil {
				continue
			}
			res.Unlisted++
			unlisted = append(unlisted, &ItemResult{Path: p.Name, Verdict: Failed,
				Findings: []Finding{NewFinding(p.Code, "%s", p.Detail)}})
		default:
			if opts.Shard.I != 0 {
				continue
			}
			msg := p.Detail
			if p.Name != "" {
				msg = p.Name + ": " + msg
			}
			res.Findings = append(res.Findings, NewFinding(p.Code, "%s", msg))
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if opts.Shard.I != 0 {
		res.Findings = []Finding{} // shard 0 reports them
	}
	slices.SortFunc(unlisted, func(a, b *ItemResult) int { return cmp.Compare(a.Path, b.Path) })
	for _, it := range unlisted {
		res.Counts.Add(it, 1)
		if err := store.put(0, it); err != nil {
			return nil, err
		}
	}
	if ms, isMem := store.(*memStore); isMem {
		res.Items = ms.items()
	} else if err := res.spool.sync(); err != nil {
		return nil, err
	}
	res.Verdict = Judge(res.Findings)
	ok = true
	return res, nil
}

// CheckpointTimestamp is a checkpoint timestamp that held: every entry
// with seq up to Size existed by the token's genTime.
type CheckpointTimestamp struct {
	Size  int64          `json:"size"`
	Token *TimestampInfo `json:"token"`
}

// SelectionError is an audit's name selection (ArchiveOptions.Names) that
// does not hold up: empty, or with names that match no entry.
type SelectionError struct {
	Empty   bool
	Missing []string // in the order given
}

func (e *SelectionError) Error() string {
	if e.Empty {
		return "the list of names to audit is empty: nothing would be checked"
	}
	const show = 5
	list := strings.Join(e.Missing[:min(len(e.Missing), show)], ", ")
	if len(e.Missing) > show {
		list += fmt.Sprintf(" and %d more", len(e.Missing)-show)
	}
	return fmt.Sprintf("%d %s to audit %s no entry of the archive: %s", len(e.Missing), plural(len(e.Missing), "name", "names"), plural(len(e.Missing), "matches", "match"), list)
}

// plural picks the word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// entryFinding is a finding about the entry of seq, whose item is name.
type entryFinding struct {
	seq  int64
	name string
	f    Finding
}

// noteFinding is the finding of a note the sealer recorded with an entry.
// A registered code means what the registry says; another (a note of a
// later sealer) is shown as recorded, with its own severity.
func noteFinding(n archive.Note) Finding {
	if _, ok := Codes[n.Code]; ok {
		return NewFinding(n.Code, "%s", n.Message)
	}
	return Finding{Code: n.Code, Severity: Severity(n.Severity), Message: n.Message}
}

// String summarizes the result in one line.
func (r *ArchiveResult) String() string {
	return fmt.Sprintf("archive %s: chain %s, %d entries, verdict %s", r.Dir, r.ChainID, r.Entries, r.Verdict)
}

// itemStore keeps an audit's items by seq (0: a file no entry lists, kept
// in the order put) until the report is written.
type itemStore interface {
	put(seq int64, it *ItemResult) error // replaces the item of seq
	get(seq int64) (*ItemResult, error)  // nil when there is none
}

func newMemStore() *memStore { return &memStore{bySeq: map[int64]*ItemResult{}} }

// memStore keeps the items in memory.
type memStore struct {
	mu    sync.Mutex
	bySeq map[int64]*ItemResult
	tail  []*ItemResult
}

func (m *memStore) put(seq int64, it *ItemResult) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if seq == 0 {
		m.tail = append(m.tail, it)
	} else {
		m.bySeq[seq] = it
	}
	return nil
}

func (m *memStore) get(seq int64) (*ItemResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bySeq[seq], nil
}

func (m *memStore) items() []*ItemResult {
	out := make([]*ItemResult, 0, len(m.bySeq)+len(m.tail))
	m.each(func(_ int64, it *ItemResult) bool { out = append(out, it); return true })
	return out
}

// each yields the items in seq order, then those without a seq in the
// order put.
func (m *memStore) each(yield func(seq int64, it *ItemResult) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, seq := range slices.Sorted(maps.Keys(m.bySeq)) {
		if !yield(seq, m.bySeq[seq]) {
			return
		}
	}
	for _, it := range m.tail {
		if !yield(0, it) {
			return
		}
	}
}

// spoolHoldItems is how many items the spool keeps in memory before it
// moves them to its file: an audit of a few thousand entries (a few MiB of
// items) does not pay for encoding each item to JSON and decoding it again
// for the report; one of a million stays at 8 bytes an entry.
const spoolHoldItems = 8192

// itemSpool keeps the items, up to spoolHoldItems of them in memory, then
// all of them in a temporary file, one JSON line each, in the order they
// come (workers finish out of order); in memory only the offset of each
// seq's latest line (8 bytes an entry).
type itemSpool struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	size int64   // bytes written
	offs []int64 // by seq-1: 1 + the offset of the item's line; 0 for none
	tail []int64 // offsets of the items without a seq, in order

	mem  *memStore // the items until they are spilled to the file; then nil
	hold int       // how many puts mem takes before the spill (spoolHoldItems)
	held int       // puts mem took
}

func newItemSpool(dir string) (*itemSpool, error) {
	f, err := os.CreateTemp(dir, "tlseal-items-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("item spool: %w", err)
	}
	// Unlinked at once where the system allows it, so that nothing is left
	// behind if the process dies; close removes it elsewhere.
	os.Remove(f.Name())
	return &itemSpool{f: f, w: bufio.NewWriterSize(f, 64<<10), mem: newMemStore(), hold: spoolHoldItems}, nil
}

func (s *itemSpool) put(seq int64, it *ItemResult) error {
	s.mu.Lock()
	if s.mem != nil {
		if s.held < s.hold {
			s.held++
			s.mem.put(seq, it)
			s.mu.Unlock()
			return nil
		}
		err := s.spill()
		if err != nil {
			s.mu.Unlock()
			return err
		}
	}
	s.mu.Unlock()
	// Encoded outside the lock: the workers that put items encode them in
	// parallel.
	line, err := json.Marshal(it)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLine(seq, line)
}

// spill moves the items held in memory to the file, once; s.mu is held.
func (s *itemSpool) spill() error {
	mem := s.mem
	s.mem = nil
	var err error
	mem.each(func(seq int64, it *ItemResult) bool {
		var line []byte
		if line, err = json.Marshal(it); err == nil {
			err = s.appendLine(seq, line)
		}
		return err == nil
	})
	return err
}

// appendLine appends an item's JSON line to the file; s.mu is held.
func (s *itemSpool) appendLine(seq int64, line []byte) error {
	line = append(line, '\n')
	if _, err := s.w.Write(line); err != nil {
		return fmt.Errorf("item spool: %w", err)
	}
	off := s.size
	s.size += int64(len(line))
	if seq <= 0 {
		s.tail = append(s.tail, off)
		return nil
	}
	if n := seq - int64(len(s.offs)); n > 0 {
		s.offs = append(s.offs, make([]int64, n)...)
	}
	s.offs[seq-1] = off + 1
	return nil
}

func (s *itemSpool) get(seq int64) (*ItemResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mem != nil {
		return s.mem.get(seq)
	}
	if seq <= 0 || seq > int64(len(s.offs)) || s.offs[seq-1] == 0 {
		return nil, nil
	}
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("item spool: %w", err)
	}
	r := spoolReader{f: s.f, buf: make([]byte, 4<<10)}
	return r.item(s.offs[seq-1] - 1)
}

// sync writes out what is buffered: the spool is complete.
func (s *itemSpool) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("item spool: %w", err)
	}
	return nil
}

func (s *itemSpool) each(yield func(*ItemResult) bool) error {
	if err := s.sync(); err != nil {
		return err
	}
	s.mu.Lock()
	mem := s.mem
	s.mu.Unlock()
	if mem != nil {
		mem.each(func(_ int64, it *ItemResult) bool { return yield(it) })
		return nil
	}
	// Items are read and decoded on a goroutine of their own, a batch
	// ahead, while the caller (a report writer) encodes the previous ones.
	type batch struct {
		items []*ItemResult
		err   error
	}
	const batchLen = 64
	batches := make(chan batch, 4)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(batches)
		r := spoolReader{f: s.f, buf: make([]byte, 64<<10), bufOff: -1}
		var b batch
		send := func() bool {
			select {
			case batches <- b:
				b = batch{}
				return true
			case <-done:
				return false
			}
		}
		read := func(off int64) bool {
			it, err := r.item(off)
			if err != nil {
				b.err = err
				send()
				return false
			}
			b.items = append(b.items, it)
			return len(b.items) < batchLen || send()
		}
		for _, o := range s.offs {
			if o != 0 && !read(o-1) {
				return
			}
		}
		for _, o := range s.tail {
			if !read(o) {
				return
			}
		}
		if len(b.items) > 0 {
			send()
		}
	}()
	for b := range batches {
		for _, it := range b.items {
			if !yield(it) {
				return nil
			}
		}
		if b.err != nil {
			return b.err
		}
	}
	return nil
}

func (s *itemSpool) close() error {
	err := s.f.Close()
	if rerr := os.Remove(s.f.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// spoolReader reads lines of the spool through a window of the file: the
// items come back nearly in the order they were written.
type spoolReader struct {
	f      *os.File
	buf    []byte
	bufOff int64 // file offset of buf[0]
	n      int   // valid bytes in buf
}

func (r *spoolReader) item(off int64) (*ItemResult, error) {
	line, err := r.line(off)
	if err != nil {
		return nil, fmt.Errorf("item spool: %w", err)
	}
	it := new(ItemResult)
	if err := json.Unmarshal(line, it); err != nil {
		return nil, fmt.Errorf("item spool: %w", err)
	}
	return it, nil
}

func (r *spoolReader) line(off int64) ([]byte, error) {
	for {
		if r.n > 0 && off >= r.bufOff && off < r.bufOff+int64(r.n) {
			b := r.buf[off-r.bufOff : r.n]
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				return b[:i], nil
			}
			if off == r.bufOff && r.n == len(r.buf) {
				r.buf = make([]byte, 2*len(r.buf)) // a line longer than the window
			}
		}
		n, err := r.f.ReadAt(r.buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		r.bufOff, r.n = off, n
		if n < len(r.buf) && bytes.IndexByte(r.buf[:n], '\n') < 0 {
			return nil, io.ErrUnexpectedEOF
		}
	}
}
