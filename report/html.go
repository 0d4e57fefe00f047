package report

import (
	"bufio"
	"cmp"
	_ "embed"
	"html/template"
	"io"
	"iter"
	"strings"

	"github.com/tlseal/tlseal/verify"
)

//go:embed report.html.tmpl
var htmlTemplate string

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"verdictClass": func(v verify.Verdict) string { return string(v) },
	"title":        Title,
	"warnings":     func(it *verify.ItemResult) int { return verify.Warnings(it.Findings) },
	"differs": func(it *verify.ItemResult) bool {
		m := it.Measured
		return m != nil && (m.Size != it.Size || m.SHA256 != it.SHA256)
	},
}).Parse(htmlTemplate))

// Title names a report by the command that made it: "verify report",
// "audit report", "audit merge report".
func Title(command string) string {
	words := strings.Fields(command)
	switch {
	case len(words) < 2:
		return "report"
	case words[1] == "audit" && len(words) > 2 && words[2] == "merge":
		return "audit merge report"
	}
	return words[1] + " report"
}

// verdictRank puts failures on top, then indeterminate items.
func verdictRank(v verify.Verdict) int {
	switch v {
	case verify.Failed:
		return 0
	case verify.Indeterminate:
		return 1
	case verify.Skipped:
		return 3
	}
	return 2
}

// WriteHTML writes the report as one self-contained HTML page: no external
// assets, no network. Summary first, failures on top, a filterable table.
// The items are read once per verdict (failed, indeterminate, passed) rather
// than sorted in memory.
func WriteHTML(w io.Writer, r *Report) error {
	var readErr error
	sorted := func(yield func(*verify.ItemResult) bool) {
		for rank := range 4 {
			more := true
			err := r.Each(func(it *verify.ItemResult) bool {
				if verdictRank(it.Verdict) == rank {
					more = yield(it)
				}
				return more
			})
			if err != nil {
				readErr = err
				return
			}
			if !more {
				return
			}
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	err := htmlTmpl.Execute(bw, struct {
		*Report
		Sorted iter.Seq[*verify.ItemResult]
	}{r, sorted})
	if err = cmp.Or(readErr, err); err != nil {
		return err
	}
	return bw.Flush()
}
