package verify_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/verify"
)

// The notes the sealer recorded in the log records appear among their
// entries' findings: a registered code as the registry says, another as
// recorded; a warning alone does not fail an item.
func TestArchiveEntryNotes(t *testing.T) {
	ca := testpki.CA(t, testpki.Options{})
	s := testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{}))
	notes := [][]archive.Note{
		{{Code: "watch.incomplete", Severity: "warning", Message: "sealed as it was"}},
		{{Code: "vendor.hint", Severity: "info", Message: "a later sealer's note"}},
		{{Code: "vendor.damage", Severity: "error", Message: "the sealer saw damage"}},
		{{Code: "watch.incomplete", Severity: "error", Message: "registered: the registry's severity"}},
		{{Code: "watch.incomplete", Severity: "warning", Message: "the file goes missing"}},
		nil,
	}
	dir := filepath.Join(t.TempDir(), "a")
	src := t.TempDir()
	w, err := archive.Create(dir, archive.Options{Signer: s, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for i, ns := range notes {
		p := filepath.Join(src, fmt.Sprintf("e%d.json", i+1))
		os.WriteFile(p, samples.EventJSON(i, time.Unix(int64(i), 0), "a.wav"), 0o644)
		if _, err := w.IngestWithNotes(p, filepath.Base(p), ns); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "files", "e5.json"))

	type want struct {
		verdict  verify.Verdict
		findings string // code/severity, in order
	}
	wants := []want{
		{verify.Passed, "watch.incomplete/warning"},
		{verify.Passed, "vendor.hint/info"},
		{verify.Failed, "vendor.damage/error"},
		{verify.Passed, "watch.incomplete/warning"},
		{verify.Failed, "log.entryMissingFile/error watch.incomplete/warning"},
		{verify.Passed, ""},
	}
	trust := verify.NewTrust([]*x509.Certificate{ca.Cert})
	for _, shard := range []verify.Shard{{}, {I: 1, N: 2}} {
		res, _, _ := audit(t, dir, trust, verify.ArchiveOptions{Shard: shard})
		var got []string
		for _, it := range res.Items {
			got = append(got, fmt.Sprintf("%d %s %s", it.Entry, it.Verdict, findingList(it.Findings)))
			if it.Entry == 1 && it.Findings[0].Message != "sealed as it was" {
				t.Errorf("message %q", it.Findings[0].Message)
			}
		}
		var exp []string
		for i, w := range wants {
			if shard.Owns(int64(i)) {
				exp = append(exp, fmt.Sprintf("%d %s %s", i+1, w.verdict, w.findings))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Errorf("shard %v:\n got %q\nwant %q", shard, got, exp)
		}
	}
	// Names select the items, notes included.
	res, _, _ := audit(t, dir, trust, verify.ArchiveOptions{Names: []string{"e1.json", "e5.json"}})
	if len(res.Items) != 2 || findingList(res.Items[0].Findings) != wants[0].findings || findingList(res.Items[1].Findings) != wants[4].findings {
		t.Errorf("names: %d items", len(res.Items))
		for _, it := range res.Items {
			t.Logf("%s %v", it.Path, it.Findings)
		}
	}
}

func findingList(fs []verify.Finding) string {
	s := ""
	for i, f := range fs {
		if i > 0 {
			s += " "
		}
		s += f.Code + "/" + string(f.Severity)
	}
	return s
}

// A name selection that does not hold up is an error, never a clean audit
// of less than was asked for: an empty list, or a name (a typo) that
// matches no entry — whatever the shard the name's entry falls in.
func TestArchiveNameSelection(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ev")
	ca := testpki.CA(t, testpki.Options{})
	files := map[string][]byte{}
	for i := range 3 {
		files[fmt.Sprintf("e%d.json", i+1)] = samples.EventJSON(i, time.Unix(int64(i), 0), "a.wav")
	}
	buildArchive(t, dir, archive.Options{}, batch{testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{})), files})
	trust := verify.NewTrust([]*x509.Certificate{ca.Cert})
	for _, c := range []struct {
		names   []string
		allow   bool
		shard   verify.Shard
		missing []string // nil: no error
		empty   bool
		items   int
	}{
		{names: []string{"e1.json", "files/e2.json"}, missing: []string{"files/e2.json"}},
		{names: []string{"e1.json", "e2.jsn"}, missing: []string{"e2.jsn"}},
		{names: []string{"e1.json", "e2.jsn"}, allow: true, items: 1},
		{names: []string{}, empty: true},
		{names: []string{}, allow: true, empty: true},
		{names: []string{"e2.json"}, shard: verify.Shard{I: 0, N: 2}, items: 0},
		{names: []string{"e1.json", "e3.json"}, shard: verify.Shard{I: 0, N: 2}, items: 2},
	} {
		res, err := verify.Archive(t.Context(), dir, trust, verify.ArchiveOptions{Names: c.names, AllowMissingNames: c.allow, Shard: c.shard})
		var se *verify.SelectionError
		switch {
		case c.missing == nil && !c.empty:
			if err != nil {
				t.Errorf("%v: %v", c.names, err)
				continue
			}
			if len(res.Items) != c.items {
				t.Errorf("%v shard %v: %d items, want %d", c.names, c.shard, len(res.Items), c.items)
			}
			res.Close()
		case !errors.As(err, &se):
			t.Errorf("%v: error %v, want a SelectionError", c.names, err)
		case se.Empty != c.empty || fmt.Sprint(se.Missing) != fmt.Sprint(c.missing):
			t.Errorf("%v: %+v, want missing %v empty %v", c.names, se, c.missing, c.empty)
		}
	}
}
