package report

import (
	"bufio"
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tlseal/tlseal/verify"
)

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
// (not shown to pass, not shown to fail). The cases are encoded one at a
// time.
func WriteJUnit(w io.Writer, r *Report) error {
	props := []junitProperty{{"tool", r.Tool.Name + " " + r.Tool.Version}, {"verdict", string(r.Verdict)}}
	if r.Case != nil {
		props = append(props, junitProperty{"case", r.Case.ID}, junitProperty{"examiner", r.Case.Examiner})
	}
	for _, a := range r.Trust.Anchors {
		props = append(props, junitProperty{"trustAnchor", a.Subject + " sha256:" + a.SHA256})
	}
	// JUnit "skipped" holds the indeterminate items and the files that
	// are not timeline files.
	var tests, failures, skipped int
	for _, it := range r.Items {
		tests++
		switch it.Verdict {
		case verify.Failed:
			failures++
		case verify.Indeterminate, verify.Skipped:
			skipped++
		}
	}
	if r.src != nil {
		tests += r.srcCount.Items
		failures += r.srcCount.Failed
		skipped += r.srcCount.Indeterminate + r.srcCount.Skipped
	}
	counts := func(name string) []xml.Attr {
		return []xml.Attr{{Name: xml.Name{Local: "name"}, Value: name},
			{Name: xml.Name{Local: "tests"}, Value: strconv.Itoa(tests)},
			{Name: xml.Name{Local: "failures"}, Value: strconv.Itoa(failures)},
			{Name: xml.Name{Local: "skipped"}, Value: strconv.Itoa(skipped)}}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(xml.Header)
	enc := xml.NewEncoder(bw)
	enc.Indent("", "  ")
	suites := xml.StartElement{Name: xml.Name{Local: "testsuites"}, Attr: counts("tlseal")}
	suite := xml.StartElement{Name: xml.Name{Local: "testsuite"}, Attr: append(counts("tlseal "+r.Command),
		xml.Attr{Name: xml.Name{Local: "timestamp"}, Value: r.StartedAt},
		xml.Attr{Name: xml.Name{Local: "hostname"}, Value: r.Host})}
	properties := xml.StartElement{Name: xml.Name{Local: "properties"}}
	for _, t := range []xml.Token{suites, suite, properties} {
		if err := enc.EncodeToken(t); err != nil {
			return err
		}
	}
	for _, p := range props {
		if err := enc.EncodeElement(p, xml.StartElement{Name: xml.Name{Local: "property"}}); err != nil {
			return err
		}
	}
	if err := enc.EncodeToken(properties.End()); err != nil {
		return err
	}
	var encErr error
	err := r.Each(func(it *verify.ItemResult) bool {
		encErr = enc.EncodeElement(junitCaseOf(it), xml.StartElement{Name: xml.Name{Local: "testcase"}})
		return encErr == nil
	})
	if err = cmp.Or(err, encErr); err != nil {
		return err
	}
	for _, t := range []xml.Token{suite.End(), suites.End()} {
		if err := enc.EncodeToken(t); err != nil {
			return err
		}
	}
	if err := enc.Close(); err != nil {
		return err
	}
	bw.WriteString("\n")
	return bw.Flush()
}

func junitCaseOf(it *verify.ItemResult) junitCase {
	c := junitCase{Name: it.Path, Classname: "tlseal." + string(it.Kind)}
	var lines []string
	if it.TrustedTime != "" {
		lines = append(lines, fmt.Sprintf("trusted time %s (%s)", it.TrustedTime, it.TrustedTimeSource))
	}
	for _, f := range it.Findings {
		lines = append(lines, fmt.Sprintf("%s %s: %s", f.Severity, f.Code, f.Message))
	}
	text := strings.Join(lines, "\n")
	switch it.Verdict {
	case verify.Failed:
		c.Failure = &junitMessage{Message: firstCode(it, verify.SevError), Type: "failed", Text: text}
	case verify.Indeterminate:
		c.Skipped = &junitMessage{Message: "indeterminate: " + firstCode(it, verify.SevWarning), Text: text}
	case verify.Skipped:
		c.Skipped = &junitMessage{Message: "skipped: not a timeline file", Text: text}
	default:
		c.SystemOut = text
	}
	return c
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
