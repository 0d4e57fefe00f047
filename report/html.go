package report

import (
	"cmp"
	_ "embed"
	"html/template"
	"io"
	"slices"

	"github.com/tlseal/tlseal/verify"
)

//go:embed report.html.tmpl
var htmlTemplate string

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"verdictClass": func(v verify.Verdict) string { return string(v) },
}).Parse(htmlTemplate))

// verdictRank puts failures on top, then indeterminate items.
func verdictRank(v verify.Verdict) int {
	switch v {
	case verify.Failed:
		return 0
	case verify.Indeterminate:
		return 1
	}
	return 2
}

// WriteHTML writes the report as one self-contained HTML page: no external
// assets, no network. Summary first, failures on top, a filterable table.
func WriteHTML(w io.Writer, r *Report) error {
	items := slices.Clone(r.Items)
	slices.SortStableFunc(items, func(a, b *verify.ItemResult) int {
		return cmp.Compare(verdictRank(a.Verdict), verdictRank(b.Verdict))
	})
	return htmlTmpl.Execute(w, struct {
		*Report
		Sorted []*verify.ItemResult
	}{r, items})
}
