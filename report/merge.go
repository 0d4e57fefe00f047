package report

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/verify"
)

// Read parses a JSON report (a sealed one too: its seal member is ignored).
func Read(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("not a tlseal JSON report: %w", err)
	}
	if rep.Tool.Name != ToolName {
		return nil, errors.New("not a tlseal JSON report (tool.name)")
	}
	return &rep, nil
}

// Merge combines the reports of the shards of one audit into the report a
// single run would have written: the items of all shards in log order, the
// archive findings (reported by shard 0), the summary recounted. The shards
// must come from the same archive at the same checkpoint with the same
// trust anchors, each with its items in log order (as audits write them).
//
// The merged report's items are read from the shards by its writers (Each),
// not copied into its Items.
func Merge(args []string, shards []*Report, now time.Time) (*Report, error) {
	sorted := make([][]*verify.ItemResult, len(shards))
	for i, s := range shards {
		sorted[i] = slices.Clone(s.Items)
		slices.SortStableFunc(sorted[i], func(a, b *verify.ItemResult) int { return cmp.Compare(seqOf(a), seqOf(b)) })
	}
	return merge(args, shards, func(i int) (itemReader, error) {
		return &sliceReader{items: sorted[i]}, nil
	}, now)
}

// MergeFiles is Merge for JSON report files, read as streams: the items
// are never all in memory. Each file is read again by every writer of the
// merged report, so the files must stay in place until then.
func MergeFiles(args []string, paths []string, now time.Time) (*Report, error) {
	var shards []*Report
	for _, p := range paths {
		rep, err := readHeader(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		shards = append(shards, rep)
	}
	return merge(args, shards, func(i int) (itemReader, error) {
		r, err := openItems(paths[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", paths[i], err)
		}
		return r, nil
	}, now)
}

// itemReader reads the items of one report in order; next returns nil at
// the end.
type itemReader interface {
	next() (*verify.ItemResult, error)
	Close() error
}

type sliceReader struct{ items []*verify.ItemResult }

func (s *sliceReader) next() (*verify.ItemResult, error) {
	if len(s.items) == 0 {
		return nil, nil
	}
	it := s.items[0]
	s.items = s.items[1:]
	return it, nil
}

func (s *sliceReader) Close() error { return nil }

// fileReader reads the items array of a JSON report file, one item at a
// time.
type fileReader struct {
	f   *os.File
	dec *json.Decoder
	in  bool // inside the items array
}

// openItems opens a report file positioned on its first item.
func openItems(path string) (*fileReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &fileReader{f: f, dec: json.NewDecoder(bufio.NewReaderSize(f, 64<<10))}
	found := false
	err = r.members(func(key string) (bool, error) {
		if key != "items" {
			var skip json.RawMessage
			return true, r.dec.Decode(&skip)
		}
		found = true
		return false, r.openArray()
	})
	if err == nil && !found {
		err = errors.New("not a tlseal JSON report: no items")
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// members calls fn with the key of each member of the report object, the
// decoder placed on its value, until fn returns false.
func (r *fileReader) members(fn func(key string) (bool, error)) error {
	if t, err := r.dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("not a tlseal JSON report: %v", cmpErr(err, "not an object"))
	}
	for r.dec.More() {
		t, err := r.dec.Token()
		if err != nil {
			return fmt.Errorf("not a tlseal JSON report: %w", err)
		}
		key, _ := t.(string)
		more, err := fn(key)
		if err != nil {
			return fmt.Errorf("not a tlseal JSON report: %w", err)
		}
		if !more {
			return nil
		}
	}
	_, err := r.dec.Token()
	return err
}

func cmpErr(err error, msg string) any {
	if err != nil {
		return err
	}
	return msg
}

func (r *fileReader) openArray() error {
	t, err := r.dec.Token()
	if err != nil {
		return err
	}
	if t == nil { // "items": null
		return nil
	}
	if t != json.Delim('[') {
		return errors.New("items is not an array")
	}
	r.in = true
	return nil
}

func (r *fileReader) next() (*verify.ItemResult, error) {
	if !r.in {
		return nil, nil
	}
	if !r.dec.More() {
		r.in = false
		_, err := r.dec.Token() // ]
		return nil, err
	}
	it := new(verify.ItemResult)
	if err := r.dec.Decode(it); err != nil {
		return nil, fmt.Errorf("items: %w", err)
	}
	return it, nil
}

func (r *fileReader) Close() error { return r.f.Close() }

// readHeader reads a report file but its items.
func readHeader(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &fileReader{f: f, dec: json.NewDecoder(bufio.NewReaderSize(f, 64<<10))}
	members := map[string]json.RawMessage{}
	err = r.members(func(key string) (bool, error) {
		if key == "items" {
			if err := r.openArray(); err != nil {
				return false, err
			}
			for {
				it, err := r.next()
				if it == nil || err != nil {
					return true, err
				}
			}
		}
		var v json.RawMessage
		err := r.dec.Decode(&v)
		members[key] = v
		return true, err
	})
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(members)
	if err != nil {
		return nil, err
	}
	return Read(strings.NewReader(string(b)))
}

// ShardSetError is a set of reports that are not every shard of one audit
// exactly once: merging them would report a pass for entries nobody
// checked.
type ShardSetError struct{ Msg string }

func (e *ShardSetError) Error() string { return "audit merge: " + e.Msg }

// completeShardSet checks that the reports are the shards 0..n-1 of n, each
// once, of one archive at one checkpoint (the rest of the headers is
// compared by merge).
func completeShardSet(shards []*Report) error {
	n := 0
	seen := map[int]int{} // shard index → report number
	for i, s := range shards {
		a := s.Archive
		if a == nil {
			return &ShardSetError{fmt.Sprintf("report %d is not an archive audit", i+1)}
		}
		if a.Shard == nil {
			if len(shards) == 1 {
				return nil // one whole audit: nothing to combine, nothing missing
			}
			return &ShardSetError{fmt.Sprintf("report %d is not a shard report (it audited the whole archive, not --shard i/n)", i+1)}
		}
		if n == 0 {
			n = a.Shard.Of
		}
		if a.Shard.Of != n || a.Shard.Index < 0 || a.Shard.Index >= a.Shard.Of {
			return &ShardSetError{fmt.Sprintf("report %d is shard %d/%d, report 1 of a split into %d", i+1, a.Shard.Index, a.Shard.Of, n)}
		}
		if j, dup := seen[a.Shard.Index]; dup {
			return &ShardSetError{fmt.Sprintf("shard %d/%d is given twice (reports %d and %d)", a.Shard.Index, n, j, i+1)}
		}
		seen[a.Shard.Index] = i + 1
		if b := shards[0].Archive; a.ChainID != b.ChainID || !sameCheckpoint(a.Checkpoint, b.Checkpoint) {
			return &ShardSetError{fmt.Sprintf("report %d is of another archive or checkpoint (chain %s, checkpoint %s) than report 1 (chain %s, checkpoint %s)",
				i+1, a.ChainID, checkpointName(a.Checkpoint), b.ChainID, checkpointName(b.Checkpoint))}
		}
	}
	var missing []string
	for i := range n {
		if _, ok := seen[i]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", i, n))
		}
	}
	if len(missing) > 0 {
		return &ShardSetError{fmt.Sprintf("shard %s missing: the merged report would not cover %d of the %d parts of the archive", strings.Join(missing, ", "), len(missing), n)}
	}
	return nil
}

func checkpointName(c *verify.CheckpointInfo) string {
	if c == nil {
		return "none"
	}
	return fmt.Sprintf("size %d root %s", c.Size, c.Root)
}

// merge merges the shards whose headers (everything but the items) are
// given; open reads the items of shard i, as often as needed.
func merge(args []string, shards []*Report, open func(i int) (itemReader, error), now time.Time) (*Report, error) {
	if len(shards) == 0 {
		return nil, errors.New("no report to merge")
	}
	first := shards[0]
	out := &Report{Tool: Tool{Name: ToolName, Version: Version()}, Host: first.Host, Case: first.Case,
		Trust: first.Trust, Items: []*verify.ItemResult{}}
	out.Command = strings.Join(args, " ")
	out.StartedAt = first.StartedAt
	if err := completeShardSet(shards); err != nil {
		return nil, err
	}
	var archiveRes *verify.ArchiveResult
	for i, s := range shards {
		if s.StartedAt < out.StartedAt {
			out.StartedAt = s.StartedAt
		}
		if !slices.EqualFunc(s.Trust.Anchors, first.Trust.Anchors, func(a, b verify.AnchorInfo) bool { return a.SHA256 == b.SHA256 }) {
			return nil, fmt.Errorf("report %d used other trust anchors than report 1", i+1)
		}
		if a := s.Archive; a != nil {
			if archiveRes == nil {
				c := *a
				c.Findings = slices.Clone(a.Findings)
				c.Shard = nil // the merge covers every shard
				archiveRes = &c
			} else {
				if a.ChainID != archiveRes.ChainID || !sameCheckpoint(a.Checkpoint, archiveRes.Checkpoint) {
					return nil, fmt.Errorf("report %d is of another archive or checkpoint (chain %s) than report 1 (chain %s)", i+1, a.ChainID, archiveRes.ChainID)
				}
				archiveRes.Findings = append(archiveRes.Findings, a.Findings...)
			}
		}
	}
	// The items in log order: entries by chain position, then files no
	// entry lists; a merge of the shards' streams, each in log order.
	items := func(yield func(*verify.ItemResult) bool) error {
		return mergeItems(len(shards), open, yield)
	}
	// A first pass checks the shards and counts.
	var counts verify.ItemCounts
	var missing, unlisted int
	err := items(func(it *verify.ItemResult) bool {
		counts.Add(it, 1)
		if slices.ContainsFunc(it.Findings, func(f verify.Finding) bool { return f.Code == archive.CodeEntryMissingFile }) {
			missing++
		}
		if slices.ContainsFunc(it.Findings, func(f verify.Finding) bool { return f.Code == archive.CodeUnlistedFile }) {
			unlisted++
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	out.setSource(items, counts)
	out.Summary.Missing, out.Summary.Unlisted = missing, unlisted
	if archiveRes != nil {
		archiveRes.Verdict = verify.Judge(archiveRes.Findings)
		out.Archive = archiveRes
	}
	out.Finish(now)
	return out, nil
}

// mergeItems yields the items of n shards in log order (ties in shard
// order), refusing shards that overlap or are not in log order.
func mergeItems(n int, open func(i int) (itemReader, error), yield func(*verify.ItemResult) bool) error {
	rs := make([]itemReader, 0, n)
	defer func() {
		for _, r := range rs {
			r.Close()
		}
	}()
	heads := make([]*verify.ItemResult, n)
	for i := range n {
		r, err := open(i)
		if err != nil {
			return err
		}
		rs = append(rs, r)
		if heads[i], err = r.next(); err != nil {
			return err
		}
	}
	var last int64 = -1
	unlisted := map[string]bool{} // paths of the items without an entry
	for {
		k := -1
		for i, h := range heads {
			if h != nil && (k < 0 || seqOf(h) < seqOf(heads[k])) {
				k = i
			}
		}
		if k < 0 {
			return nil
		}
		it := heads[k]
		seq := seqOf(it)
		if seq == last && it.Entry > 0 || it.Entry <= 0 && unlisted[it.Path] {
			return fmt.Errorf("%s is in more than one report: the shards overlap", it.Path)
		}
		if it.Entry <= 0 {
			unlisted[it.Path] = true
		}
		last = seq
		next, err := rs[k].next()
		if err != nil {
			return err
		}
		if next != nil && seqOf(next) < seq {
			return fmt.Errorf("report %d: its items are not in log order (entry %d after %d)", k+1, next.Entry, it.Entry)
		}
		heads[k] = next
		if !yield(it) {
			return nil
		}
	}
}

func seqOf(it *verify.ItemResult) int64 {
	if it.Entry > 0 {
		return it.Entry
	}
	return 1 << 62 // files no entry lists come last
}

func sameCheckpoint(a, b *verify.CheckpointInfo) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
