package report_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/testarchive"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/report"
	"github.com/tlseal/tlseal/verify"
)

// auditReports audits a small archive with findings of every kind of place
// (an entry, a missing file, an unlisted file), its items in memory or
// spooled to a file, plus a loose file added after the archive.
func auditReports(t *testing.T) (mem, spooled *report.Report) {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.CA(t, testpki.Options{})
	signer := testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{}))
	arch := testarchive.WithFindings(t, dir, signer, testarchive.Options{Entries: 12, WAVEvery: 5, Alias: "r<&>.wav"})
	loose, err := verify.File(filepath.Join(arch, "files", "e.v2.json"), nil)
	if err != nil {
		t.Fatal(err)
	}

	trust := verify.NewTrust([]*x509.Certificate{ca.Cert})
	started, finished := time.Unix(1e9, 0), time.Unix(1e9+5, 0)
	mk := func(spool bool) *report.Report {
		res, err := verify.Archive(context.Background(), arch, trust, verify.ArchiveOptions{Spool: spool, SpoolDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Close() })
		r := report.New([]string{"tlseal", "verify", arch}, trust, started)
		r.Case = &report.Case{ID: "CASE-7", Notes: "<i>x</i>"}
		r.AddArchive(res)
		r.Add(loose)
		r.Finish(finished)
		return r
	}
	return mk(false), mk(true)
}

var writers = []struct {
	name       string
	write, ref func(io.Writer, *report.Report) error
}{
	{"json", report.WriteJSON, report.RefWriteJSON},
	{"text", report.WriteText, report.RefWriteText},
	{"html", report.WriteHTML, report.RefWriteHTML},
	{"junit", report.WriteJUnit, report.RefWriteJUnit},
}

// The streaming writers write what encoding every item at once wrote, for
// items in memory and items read back from a spool alike.
func TestStreamingWritersMatchInMemory(t *testing.T) {
	mem, spooled := auditReports(t)
	empty := report.New([]string{"tlseal", "verify"}, nil, time.Unix(1e9, 0))
	empty.Finish(time.Unix(1e9, 0))
	nilItems := sampleReport(t)
	nilItems.Items = nil
	reports := map[string]*report.Report{"sample": sampleReport(t), "archive": mem, "spooled": spooled, "empty": empty, "nil items": nilItems}
	if spooled.Summary != mem.Summary || spooled.Verdict != mem.Verdict || len(spooled.Items) != 1 {
		t.Fatalf("spooled summary %+v %s (%d items in memory), in memory %+v %s", spooled.Summary, spooled.Verdict, len(spooled.Items), mem.Summary, mem.Verdict)
	}
	for _, w := range writers {
		var want bytes.Buffer
		if err := w.ref(&want, mem); err != nil {
			t.Fatal(err)
		}
		for name, r := range reports {
			var got, ref bytes.Buffer
			if err := w.write(&got, r); err != nil {
				t.Fatalf("%s %s: %v", w.name, name, err)
			}
			if err := w.ref(&ref, r); err != nil {
				t.Fatal(err)
			}
			if got.String() != ref.String() {
				t.Errorf("%s %s: streamed output differs:\n%s\nwant:\n%s", w.name, name, got.String(), ref.String())
			}
			if name == "spooled" && got.String() != want.String() {
				t.Errorf("%s: spooled report differs from the report held in memory:\n%s\nwant:\n%s", w.name, got.String(), want.String())
			}
			if name == "spooled" && w.name == "json" {
				validate(t, got.Bytes())
			}
		}
	}
}

// A report merged from its own file equals it (times, command and tool
// aside), read as a stream or in memory; overlapping or unordered shards
// are refused.
func TestMergeFiles(t *testing.T) {
	mem, _ := auditReports(t)
	dir := t.TempDir()
	write := func(name string, r *report.Report) string {
		var b bytes.Buffer
		if err := report.WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, b.Bytes(), 0o644)
		return p
	}
	p := write("shard.json", mem)
	now := time.Unix(2e9, 0)
	streamed, err := report.MergeFiles([]string{"merge"}, []string{p}, now)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	read, err := report.Read(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	inMemory, err := report.Merge([]string{"merge"}, []*report.Report{read}, now)
	if err != nil {
		t.Fatal(err)
	}
	mem.Command, mem.FinishedAt = "merge", now.UTC().Format("2006-01-02T15:04:05.000Z")
	for _, w := range writers {
		var want, a, b bytes.Buffer
		w.write(&want, mem)
		if err := w.write(&a, streamed); err != nil {
			t.Fatal(err)
		}
		if err := w.write(&b, inMemory); err != nil {
			t.Fatal(err)
		}
		if a.String() != want.String() || b.String() != want.String() {
			t.Errorf("%s: merged report differs:\nstreamed:\n%s\nin memory:\n%s\nwant:\n%s", w.name, a.String(), b.String(), want.String())
		}
	}
	if _, err := report.MergeFiles(nil, []string{p, p}, now); err == nil || !strings.Contains(err.Error(), "not a shard report") {
		t.Errorf("overlapping shards: %v", err)
	}
	mem.Items[0], mem.Items[1] = mem.Items[1], mem.Items[0]
	if _, err := report.MergeFiles(nil, []string{write("unordered.json", mem)}, now); err == nil || !strings.Contains(err.Error(), "log order") {
		t.Errorf("unordered shard: %v", err)
	}
	if _, err := report.MergeFiles(nil, []string{write("bad.json", &report.Report{})}, now); err == nil {
		t.Error("a report of another tool was merged")
	}
}

// The JSON writer encodes items in batches on every core: with many items
// and batches, they come out complete, in order, each as json.MarshalIndent
// writes it.
func TestWriteJSONManyItemsInOrder(t *testing.T) {
	r := report.New([]string{"tlseal", "verify", "many"}, verify.NewTrust(nil), time.Unix(0, 0))
	const n = 1000
	for i := range n {
		r.Add(&verify.ItemResult{Path: fmt.Sprintf("f%04d.json", i), Verdict: verify.Passed, Findings: []verify.Finding{}})
	}
	r.Finish(time.Unix(1, 0))
	var out bytes.Buffer
	if err := report.WriteJSON(&out, r); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != n {
		t.Fatalf("%d items written, want %d", len(got.Items), n)
	}
	for i, raw := range got.Items {
		var it verify.ItemResult
		if err := json.Unmarshal(raw, &it); err != nil || it.Path != fmt.Sprintf("f%04d.json", i) {
			t.Fatalf("item %d is %q (%v)", i, it.Path, err)
		}
	}
	want, _ := json.MarshalIndent(r.Items[n-1], "    ", "  ")
	if !bytes.Contains(out.Bytes(), append([]byte("\n    "), want...)) {
		t.Error("the last item is not indented as MarshalIndent indents it")
	}
}
