package report

import (
	"cmp"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tlseal/tlseal/verify"
)

// The writers as they were when every item was held in memory: the
// streaming writers must write the same bytes.

func allItems(r *Report) []*verify.ItemResult {
	var items []*verify.ItemResult
	if err := r.Each(func(it *verify.ItemResult) bool { items = append(items, it); return true }); err != nil {
		panic(err)
	}
	return items
}

func RefWriteJSON(w io.Writer, r *Report) error {
	c := *r
	if c.Items != nil || c.src != nil {
		c.Items = append([]*verify.ItemResult{}, allItems(r)...)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&c)
}

func RefWriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	for _, it := range allItems(r) {
		fmt.Fprintf(&b, "%-13s %s", strings.ToUpper(string(it.Verdict)), it.Path)
		if it.SignedAt != "" {
			fmt.Fprintf(&b, "  (sealed %s", it.SignedAt)
			if it.Signer != nil {
				fmt.Fprintf(&b, " by %s", it.Signer.Subject)
			}
			if it.TrustedTime != "" {
				fmt.Fprintf(&b, "; trusted time %s, %s", it.TrustedTime, it.TrustedTimeSource)
			}
			b.WriteString(")")
		}
		b.WriteString("\n")
		for _, f := range it.Findings {
			fmt.Fprintf(&b, "    %-7s %-24s %s\n", f.Severity, f.Code, f.Message)
		}
	}
	if a := r.Archive; a != nil {
		ent := "entries"
		if a.Entries == 1 {
			ent = "entry"
		}
		fmt.Fprintf(&b, "archive: chain %s, %d %s", a.ChainID, a.Entries, ent)
		if cp := a.Checkpoint; cp != nil {
			fmt.Fprintf(&b, ", checkpoint size %d root %s", cp.Size, cp.Root)
		}
		if w := a.Witness; w != nil {
			fmt.Fprintf(&b, ", witness size %d", w.Size)
		}
		fmt.Fprintf(&b, ": log and checkpoint %s\n", strings.ToUpper(string(a.Verdict)))
		for _, f := range a.Findings {
			fmt.Fprintf(&b, "    %-7s %-24s %s\n", f.Severity, f.Code, f.Message)
		}
	}
	s := r.Summary
	fmt.Fprintf(&b, "%d item(s): %d passed, %d failed, %d indeterminate", s.Items, s.Passed, s.Failed, s.Indeterminate)
	if s.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", s.Skipped)
	}
	if r.Archive != nil {
		fmt.Fprintf(&b, ", %d missing, %d unlisted", s.Missing, s.Unlisted)
	}
	w1 := "warnings"
	if s.Warnings == 1 {
		w1 = "warning"
	}
	fmt.Fprintf(&b, ", %d %s; verdict: %s\n", s.Warnings, w1, r.Verdict)
	if len(r.Trust.Anchors) == 0 {
		b.WriteString("note: no trust anchor was given (--ca), so no item can pass.\n")
	}
	if len(r.Trust.CRLs) == 0 {
		b.WriteString("note: no CRL was given (--crl), so revocation was not checked.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func RefWriteHTML(w io.Writer, r *Report) error {
	items := allItems(r)
	slices.SortStableFunc(items, func(a, b *verify.ItemResult) int {
		return cmp.Compare(verdictRank(a.Verdict), verdictRank(b.Verdict))
	})
	return htmlTmpl.Execute(w, struct {
		*Report
		Sorted []*verify.ItemResult
	}{r, items})
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

func RefWriteJUnit(w io.Writer, r *Report) error {
	s := junitSuite{Name: "tlseal " + r.Command, Timestamp: r.StartedAt, Hostname: r.Host,
		Properties: []junitProperty{{"tool", r.Tool.Name + " " + r.Tool.Version}, {"verdict", string(r.Verdict)}}}
	if r.Case != nil {
		s.Properties = append(s.Properties, junitProperty{"case", r.Case.ID}, junitProperty{"examiner", r.Case.Examiner})
	}
	for _, a := range r.Trust.Anchors {
		s.Properties = append(s.Properties, junitProperty{"trustAnchor", a.Subject + " sha256:" + a.SHA256})
	}
	for _, it := range allItems(r) {
		c := junitCaseOf(it)
		switch it.Verdict {
		case verify.Failed:
			s.Failures++
		case verify.Indeterminate, verify.Skipped:
			s.Skipped++
		}
		s.Cases = append(s.Cases, c)
		s.Tests++
	}
	suites := junitSuites{Name: "tlseal", Tests: s.Tests, Failures: s.Failures, Skipped: s.Skipped, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suites); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
