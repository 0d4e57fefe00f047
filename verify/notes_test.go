package verify_test

import (
	"crypto/x509"
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
	res, _, _ := audit(t, dir, trust, verify.ArchiveOptions{Names: map[string]bool{"e1.json": true, "e5.json": true}})
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
