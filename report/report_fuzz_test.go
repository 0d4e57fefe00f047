package report_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/tlseal/tlseal/report"
)

// FuzzRead: report.Read (what audit merge and report tooling parse) never
// crashes; what it accepts every writer renders, and the JSON writer's
// output reads back to the same JSON (a fixed point after one pass).
func FuzzRead(f *testing.F) {
	var seed bytes.Buffer
	if err := report.WriteJSON(&seed, sampleReport(f)); err != nil {
		f.Fatal(err)
	}
	f.Add(seed.Bytes())
	f.Add([]byte(`{"tool":{"name":"tlseal"}}`))
	f.Add([]byte(`{"tool":{"name":"tlseal"},"items":[{"path":"a","verdict":"passed"}],"archive":{}}`))
	f.Add([]byte(`{"tool":{"name":"other"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := report.Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		for name, write := range map[string]func(io.Writer, *report.Report) error{
			"text": report.WriteText, "html": report.WriteHTML, "junit": report.WriteJUnit,
		} {
			if err := write(io.Discard, rep); err != nil {
				t.Fatalf("%s writer: %v", name, err)
			}
		}
		var j1, j2 bytes.Buffer
		if err := report.WriteJSON(&j1, rep); err != nil {
			t.Fatalf("JSON writer: %v", err)
		}
		again, err := report.Read(bytes.NewReader(j1.Bytes()))
		if err != nil {
			t.Fatalf("the JSON writer's output does not read back: %v\n%s", err, j1.Bytes())
		}
		if err := report.WriteJSON(&j2, again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(j1.Bytes(), j2.Bytes()) {
			t.Fatalf("not a fixed point:\n%s\n%s", j1.Bytes(), j2.Bytes())
		}
	})
}
