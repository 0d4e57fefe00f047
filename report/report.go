// Package report writes audit reports: the same data as JSON (the reference
// form), text for a terminal, and (later) HTML and JUnit.
package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/tlseal/tlseal/verify"
)

// ToolName is the name reports give for the tool.
const ToolName = "tlseal"

// Tool identifies the program that made a report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Case is the examiner's case information.
type Case struct {
	ID       string `json:"id,omitempty"`
	Examiner string `json:"examiner,omitempty"`
	Notes    string `json:"notes,omitempty"`
}

// Summary counts items by verdict. Missing and Unlisted count archive
// entries without their file and files without an entry (archive audits).
type Summary struct {
	Items         int   `json:"items"`
	Passed        int   `json:"passed"`
	Failed        int   `json:"failed"`
	Indeterminate int   `json:"indeterminate"`
	Skipped       int   `json:"skipped"`
	Warnings      int   `json:"warnings"` // warning findings of the items and the archive
	Missing       int   `json:"missing"`
	Unlisted      int   `json:"unlisted"`
	Bytes         int64 `json:"bytes"`
}

// Report is one run's result.
type Report struct {
	Tool       Tool                  `json:"tool"`
	Command    string                `json:"command"`
	Host       string                `json:"host"`
	StartedAt  string                `json:"startedAt"`
	FinishedAt string                `json:"finishedAt"`
	Case       *Case                 `json:"case,omitempty"`
	Trust      Trust                 `json:"trust"`
	Summary    Summary               `json:"summary"`
	Verdict    verify.Verdict        `json:"verdict"`
	Items      []*verify.ItemResult  `json:"items"`
	Archive    *verify.ArchiveResult `json:"archive,omitempty"`

	// Items that are not held in memory (a spooled archive's, a merge's)
	// come from src, which the writers read as often as needed, before
	// Items[srcAt:]; srcCount counts them.
	src      func(yield func(*verify.ItemResult) bool) error
	srcAt    int
	srcCount verify.ItemCounts
	counts   verify.ItemCounts // the items in Items
}

// Trust lists the trust anchors used.
type Trust struct {
	Anchors    []verify.AnchorInfo `json:"anchors"`
	TSAAnchors []verify.AnchorInfo `json:"tsaAnchors,omitempty"` // for timestamp tokens (--tsa-ca)
	CRLs       []string            `json:"crls,omitempty"`       // revocation lists (--crl); none: revocation not checked
}

const timeLayout = "2006-01-02T15:04:05.000Z"

// New starts a report for a command line.
func New(args []string, trust *verify.Trust, started time.Time) *Report {
	host, _ := os.Hostname()
	r := &Report{
		Tool:      Tool{Name: ToolName, Version: Version()},
		Command:   strings.Join(args, " "),
		Host:      host,
		StartedAt: started.UTC().Format(timeLayout),
		Items:     []*verify.ItemResult{},
		Trust:     Trust{Anchors: []verify.AnchorInfo{}},
	}
	if trust != nil {
		r.Trust.Anchors = trust.AnchorInfos()
		r.Trust.TSAAnchors = trust.TSAAnchorInfos()
		for _, c := range trust.CRLs.CRLs() {
			r.Trust.CRLs = append(r.Trust.CRLs, c.Describe())
		}
	}
	return r
}

// Add records an item.
func (r *Report) Add(it *verify.ItemResult) {
	r.Items = append(r.Items, it)
	r.count(it)
}

func (r *Report) count(it *verify.ItemResult) {
	r.counts.Add(it, 1)
}

// AddArchive records an archive audit: its items and its own findings. The
// items of a spooled result (verify.ArchiveOptions.Spool) stay in its spool
// file, which the writers read (so the result must not be closed before
// they have run); Items does not hold them.
func (r *Report) AddArchive(a *verify.ArchiveResult) {
	r.Archive = a
	if a.Spooled() {
		r.setSource(a.EachItem, a.Counts)
	} else {
		for _, it := range a.Items {
			r.Add(it)
		}
	}
	r.Summary.Missing += a.Missing
	r.Summary.Unlisted += a.Unlisted
}

// setSource makes the report's items (but those already added) come from
// src, which c counts.
func (r *Report) setSource(src func(yield func(*verify.ItemResult) bool) error, c verify.ItemCounts) {
	r.src, r.srcAt, r.srcCount = src, len(r.Items), c
}

// Each calls yield for every item of the report in order (a spooled
// archive's items included) until yield returns false; the error is for
// failures to read a spool.
func (r *Report) Each(yield func(*verify.ItemResult) bool) error {
	at := len(r.Items)
	if r.src != nil {
		at = min(r.srcAt, at)
	}
	for _, it := range r.Items[:at] {
		if !yield(it) {
			return nil
		}
	}
	if r.src != nil {
		more := true
		if err := r.src(func(it *verify.ItemResult) bool {
			more = yield(it)
			return more
		}); err != nil || !more {
			return err
		}
	}
	for _, it := range r.Items[at:] {
		if !yield(it) {
			return nil
		}
	}
	return nil
}

// Finish sets the end time and the overall verdict. An empty report is
// indeterminate: nothing was shown to be intact.
func (r *Report) Finish(finished time.Time) {
	r.FinishedAt = finished.UTC().Format(timeLayout)
	// The summary: one count of the items in memory and from src, the
	// archive's own warnings added.
	c, s := r.counts, r.srcCount
	sum := &r.Summary
	sum.Items, sum.Passed, sum.Failed = c.Items+s.Items, c.Passed+s.Passed, c.Failed+s.Failed
	sum.Indeterminate, sum.Skipped, sum.Bytes = c.Indeterminate+s.Indeterminate, c.Skipped+s.Skipped, c.Bytes+s.Bytes
	sum.Warnings = c.Warnings + s.Warnings
	vs := append(c.Verdicts(), s.Verdicts()...)
	if r.Archive != nil {
		vs = append(vs, r.Archive.Verdict)
		sum.Warnings += verify.Warnings(r.Archive.Findings)
	}
	r.Verdict = verify.Combine(vs...)
	// Nothing judged (an empty run, or only skipped files): nothing was
	// shown to be intact.
	if sum.Items-sum.Skipped == 0 && r.Archive == nil {
		r.Verdict = verify.Indeterminate
	}
}

// Version is the tool's version: the module version when built from a
// release, else the VCS revision, else "devel".
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		return "devel-" + rev[:min(12, len(rev))] + dirty
	}
	return "devel"
}

// WriteJSON writes the report as indented JSON. Items are encoded one at a
// time: the output is never held in memory whole.
func WriteJSON(w io.Writer, r *Report) error {
	if r.Items == nil && r.src == nil {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	// Everything but the items, encoded as usual; the items go in their
	// place, indented as the encoder would have indented them.
	shell := *r
	shell.Items = []*verify.ItemResult{}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&shell); err != nil {
		return err
	}
	const member = "\n  \"items\": ["
	head, tail, ok := bytes.Cut(buf.Bytes(), []byte(member+"]"))
	if !ok {
		return errors.New("report: the items member is not where expected")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head)
	bw.WriteString(member)
	n, err := writeItemsJSON(bw, r)
	if err != nil {
		return err
	}
	if n > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]")
	bw.Write(tail)
	return bw.Flush()
}

// itemBatch is a run of items encoded together by writeItemsJSON.
type itemBatch struct {
	items []*verify.ItemResult
	out   [][]byte
	err   error
	done  chan struct{}
}

// writeItemsJSON writes the items of r, indented, comma-separated, in
// order. They are encoded in batches on every core while the items are
// read (encoding is most of a large report's cost) and written in order.
func writeItemsJSON(bw *bufio.Writer, r *Report) (int, error) {
	const batchLen = 64
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *itemBatch, workers)
	order := make(chan *itemBatch, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				for _, it := range b.items {
					enc, err := json.MarshalIndent(it, "    ", "  ")
					if err != nil {
						b.err = err
						break
					}
					b.out = append(b.out, enc)
				}
				close(b.done)
			}
		}()
	}
	n := 0
	var encErr error
	written := make(chan struct{})
	go func() {
		defer close(written)
		for b := range order {
			<-b.done
			if b.err != nil {
				encErr = b.err
			}
			if encErr != nil {
				continue // drain
			}
			for _, enc := range b.out {
				if n > 0 {
					bw.WriteByte(',')
				}
				bw.WriteString("\n    ")
				bw.Write(enc)
				n++
			}
		}
	}()
	cur := &itemBatch{done: make(chan struct{})}
	dispatch := func() {
		order <- cur
		work <- cur
		cur = &itemBatch{done: make(chan struct{})}
	}
	err := r.Each(func(it *verify.ItemResult) bool {
		cur.items = append(cur.items, it)
		if len(cur.items) == batchLen {
			dispatch()
		}
		return true
	})
	if len(cur.items) > 0 {
		dispatch()
	}
	close(work)
	close(order)
	wg.Wait()
	<-written
	return n, cmp.Or(err, encErr)
}

// WriteText writes the report for a person at a terminal: one line per
// item, its findings indented below, then the summary.
func WriteText(w io.Writer, r *Report) error {
	b := bufio.NewWriterSize(w, 64<<10)
	err := r.Each(func(it *verify.ItemResult) bool {
		fmt.Fprintf(b, "%-13s %s", strings.ToUpper(string(it.Verdict)), it.Path)
		if it.SignedAt != "" {
			fmt.Fprintf(b, "  (sealed %s", it.SignedAt)
			if it.Signer != nil {
				fmt.Fprintf(b, " by %s", it.Signer.Subject)
			}
			if it.TrustedTime != "" {
				fmt.Fprintf(b, "; trusted time %s, %s", it.TrustedTime, it.TrustedTimeSource)
			}
			b.WriteString(")")
		}
		b.WriteString("\n")
		for _, f := range it.Findings {
			fmt.Fprintf(b, "    %-7s %-24s %s\n", f.Severity, f.Code, f.Message)
		}
		return true
	})
	if err != nil {
		return err
	}
	if a := r.Archive; a != nil {
		fmt.Fprintf(b, "archive: chain %s, %d %s", a.ChainID, a.Entries, plural(int(a.Entries), "entry", "entries"))
		if cp := a.Checkpoint; cp != nil {
			fmt.Fprintf(b, ", checkpoint size %d root %s", cp.Size, cp.Root)
		}
		if w := a.Witness; w != nil {
			fmt.Fprintf(b, ", witness size %d", w.Size)
		}
		fmt.Fprintf(b, ": log and checkpoint %s\n", strings.ToUpper(string(a.Verdict)))
		for _, ts := range a.Timestamps {
			fmt.Fprintf(b, "    timestamp of checkpoint %d: %s by %s\n", ts.Size, ts.Token.GenTime, ts.Token.TSA)
		}
		for _, f := range a.Findings {
			fmt.Fprintf(b, "    %-7s %-24s %s\n", f.Severity, f.Code, f.Message)
		}
	}
	s := r.Summary
	fmt.Fprintf(b, "%d item(s): %d passed, %d failed, %d indeterminate", s.Items, s.Passed, s.Failed, s.Indeterminate)
	if s.Skipped > 0 {
		fmt.Fprintf(b, ", %d skipped", s.Skipped)
	}
	if r.Archive != nil {
		fmt.Fprintf(b, ", %d missing, %d unlisted", s.Missing, s.Unlisted)
	}
	fmt.Fprintf(b, ", %d %s; verdict: %s\n", s.Warnings, plural(s.Warnings, "warning", "warnings"), r.Verdict)
	if len(r.Trust.Anchors) == 0 {
		b.WriteString("note: no trust anchor was given (--ca), so no item can pass.\n")
	}
	if len(r.Trust.CRLs) == 0 {
		b.WriteString("note: no CRL was given (--crl), so revocation was not checked.\n")
	}
	return b.Flush()
}

// plural picks the word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
