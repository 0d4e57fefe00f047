// Package testarchive builds evidence archives with known findings for the
// tests of the packages that audit and report on them.
package testarchive

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/timeline"
)

// Options shape the archive WithFindings builds.
type Options struct {
	Entries  int    // entries ingested (at least 6)
	WAVEvery int    // entry i (0-based) is a version of r.wav when i%WAVEvery == 0
	Alias    string // the recording name inside the events (markup tests escaping)
}

// WithFindings ingests, into dir/archive, versions of one event
// (e.json, e.v2.json, …) and of one recording (r.wav, …) sealed by signer,
// closes the archive, then damages it in every kind of place a finding can
// be: e.v3.json is removed (log.entryMissingFile), a byte of e.v5.json is
// flipped (a finding of an entry's file) and files/stray.json is added
// (log.unlistedFile). It returns the archive's directory.
func WithFindings(t testing.TB, dir string, signer *timeline.Signer, o Options) string {
	t.Helper()
	arch := filepath.Join(dir, "archive")
	w, err := archive.Create(arch, archive.Options{Signer: signer, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range o.Entries {
		p, data := filepath.Join(src, "e.json"), samples.EventJSON(i, time.Unix(int64(i)*60, 0), o.Alias)
		if i%o.WAVEvery == 0 {
			p, data = filepath.Join(src, "r.wav"), samples.WAV(8000, 0.05, float64(300+i))
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Ingest(p, filepath.Base(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files := filepath.Join(arch, "files")
	if err := os.Remove(filepath.Join(files, "e.v3.json")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(files, "e.v5.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[20] ^= 1
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(files, "stray.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return arch
}
