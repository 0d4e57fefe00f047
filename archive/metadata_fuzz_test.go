package archive

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadMetadata: archive.json never crashes the reader; a refusal is a
// typed error; what is accepted is a valid chain id and origin, and it is
// written back (writeMetadata) to what reads as the same metadata.
func FuzzReadMetadata(f *testing.F) {
	f.Add([]byte(`{"format":"tlseal-archive","version":1,"chainId":"0b6c7a52-1c1e-4b8e-9a57-6d1b0f3c9e21","origin":"tlseal.local/0b6c7a52-1c1e-4b8e-9a57-6d1b0f3c9e21","created":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"format":"tlseal-archive","version":2,"chainId":"x","origin":"o"}`))
	f.Add([]byte(`{"format":"tlseal-archive","version":1,"chainId":"a b","origin":"o"}`))
	f.Add([]byte(`{"format":"tlseal-archive","version":1,"chainId":"x","origin":"o+x"}`))
	f.Add([]byte(`{"format":"other"}`))
	f.Add([]byte(`{"format":"tlseal-archive","extra":1}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, metadataFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadMetadata(dir)
		if err != nil {
			if ReasonOf(err) == 0 {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if m.Format != FormatName || m.Version != FormatVersion || checkChainID(m.ChainID) != nil || !validKeyName(m.Origin) {
			t.Fatalf("accepted invalid metadata %+v", m)
		}
		out := t.TempDir()
		if err := writeMetadata(out, m); err != nil {
			t.Fatal(err)
		}
		back, err := ReadMetadata(out)
		if err != nil {
			t.Fatalf("written back, it does not read: %v", err)
		}
		if *back != *m {
			t.Fatalf("round trip: %+v, then %+v", m, back)
		}
	})
}
