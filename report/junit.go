package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/tlseal/tlseal/verify"
)

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

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML for CI dashboards: one test
// case per item; failed items are failures, indeterminate ones skipped
// (not shown to pass, not shown to fail).
func WriteJUnit(w io.Writer, r *Report) error {
	s := junitSuite{Name: "tlseal " + r.Command, Timestamp: r.StartedAt, Hostname: r.Host,
		Properties: []junitProperty{{"tool", r.Tool.Name + " " + r.Tool.Version}, {"verdict", string(r.Verdict)}}}
	if r.Case != nil {
		s.Properties = append(s.Properties, junitProperty{"case", r.Case.ID}, junitProperty{"examiner", r.Case.Examiner})
	}
	for _, a := range r.Trust.Anchors {
		s.Properties = append(s.Properties, junitProperty{"trustAnchor", a.Subject + " sha256:" + a.SHA256})
	}
	for _, it := range r.Items {
		c := junitCase{Name: it.Path, Classname: "tlseal." + string(it.Kind)}
		var lines []string
		for _, f := range it.Findings {
			lines = append(lines, fmt.Sprintf("%s %s: %s", f.Severity, f.Code, f.Message))
		}
		text := strings.Join(lines, "\n")
		switch it.Verdict {
		case verify.Failed:
			c.Failure = &junitMessage{Message: firstCode(it, verify.SevError), Type: "failed", Text: text}
			s.Failures++
		case verify.Indeterminate:
			c.Skipped = &junitMessage{Message: "indeterminate: " + firstCode(it, verify.SevWarning), Text: text}
			s.Skipped++
		default:
			c.SystemOut = text
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

func firstCode(it *verify.ItemResult, sev verify.Severity) string {
	for _, f := range it.Findings {
		if f.Severity == sev {
			return f.Code
		}
	}
	if len(it.Findings) > 0 {
		return it.Findings[0].Code
	}
	return string(it.Verdict)
}
