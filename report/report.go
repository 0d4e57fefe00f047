// Package report writes audit reports: the same data as JSON (the reference
// form), text for a terminal, and (later) HTML and JUnit.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
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
}

// Trust lists the trust anchors used.
type Trust struct {
	Anchors []verify.AnchorInfo `json:"anchors"`
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
	}
	return r
}

// Add records an item.
func (r *Report) Add(it *verify.ItemResult) {
	r.Items = append(r.Items, it)
	r.Summary.Items++
	r.Summary.Bytes += it.Size
	switch it.Verdict {
	case verify.Passed:
		r.Summary.Passed++
	case verify.Failed:
		r.Summary.Failed++
	default:
		r.Summary.Indeterminate++
	}
}

// AddArchive records an archive audit: its items and its own findings.
func (r *Report) AddArchive(a *verify.ArchiveResult) {
	r.Archive = a
	for _, it := range a.Items {
		r.Add(it)
	}
	r.Summary.Missing += a.Missing
	r.Summary.Unlisted += a.Unlisted
}

// Finish sets the end time and the overall verdict. An empty report is
// indeterminate: nothing was shown to be intact.
func (r *Report) Finish(finished time.Time) {
	r.FinishedAt = finished.UTC().Format(timeLayout)
	vs := make([]verify.Verdict, 0, len(r.Items)+1)
	for _, it := range r.Items {
		vs = append(vs, it.Verdict)
	}
	if r.Archive != nil {
		vs = append(vs, r.Archive.Verdict)
	}
	r.Verdict = verify.Combine(vs...)
	if len(r.Items) == 0 && r.Archive == nil {
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

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person at a terminal: one line per
// item, its findings indented below, then the summary.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	for _, it := range r.Items {
		fmt.Fprintf(&b, "%-13s %s", strings.ToUpper(string(it.Verdict)), it.Path)
		if it.SignedAt != "" {
			fmt.Fprintf(&b, "  (sealed %s", it.SignedAt)
			if it.Signer != nil {
				fmt.Fprintf(&b, " by %s", it.Signer.Subject)
			}
			b.WriteString(")")
		}
		b.WriteString("\n")
		for _, f := range it.Findings {
			fmt.Fprintf(&b, "    %-7s %-24s %s\n", f.Severity, f.Code, f.Message)
		}
	}
	if a := r.Archive; a != nil {
		fmt.Fprintf(&b, "archive: chain %s, %d entries", a.ChainID, a.Entries)
		if cp := a.Checkpoint; cp != nil {
			fmt.Fprintf(&b, ", checkpoint size %d root %s", cp.Size, cp.Root)
		}
		if w := a.Witness; w != nil {
			fmt.Fprintf(&b, ", witness size %d", w.Size)
		}
		fmt.Fprintf(&b, ": %s\n", strings.ToUpper(string(a.Verdict)))
		for _, f := range a.Findings {
			fmt.Fprintf(&b, "    %-7s %-24s %s\n", f.Severity, f.Code, f.Message)
		}
	}
	s := r.Summary
	fmt.Fprintf(&b, "%d item(s): %d passed, %d failed, %d indeterminate", s.Items, s.Passed, s.Failed, s.Indeterminate)
	if r.Archive != nil {
		fmt.Fprintf(&b, ", %d missing, %d unlisted", s.Missing, s.Unlisted)
	}
	fmt.Fprintf(&b, "; verdict: %s\n", r.Verdict)
	if len(r.Trust.Anchors) == 0 {
		b.WriteString("note: no trust anchor was given (--ca), so no item can pass.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
