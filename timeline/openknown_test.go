package timeline_test

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tlseal/tlseal/timeline"
)

// OpenKnown finds what Open finds, whether the known envelope is the
// file's (then it is not parsed again) or another one: on every golden
// vector, the negative ones included.
func TestOpenKnownSameAsOpen(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, "sealed-*"))
	neg, _ := filepath.Glob(filepath.Join(goldenDir, "negative", "*"))
	files = append(files, neg...)
	if len(files) < 20 {
		t.Fatalf("only %d golden vectors", len(files))
	}
	other := mustRead(t, filepath.Join(goldenDir, "sealed-es384-event.json"))
	oo, _ := timeline.Open(bytes.NewReader(other), int64(len(other)))
	for _, f := range files {
		data := mustRead(t, f)
		want, err := timeline.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		knowns := map[string]struct {
			b []byte
			e *timeline.Envelope
		}{"own": {want.EnvelopeBytes, want.Envelope}, "other": {oo.EnvelopeBytes, oo.Envelope}, "none": {}}
		for name, k := range knowns {
			got, err := timeline.OpenKnown(bytes.NewReader(data), int64(len(data)), k.b, k.e)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Problems, want.Problems) || !reflect.DeepEqual(got.Envelope, want.Envelope) {
				t.Errorf("%s, known %s: problems %v, Open finds %v", filepath.Base(f), name, got.Problems, want.Problems)
			}
		}
	}
}
