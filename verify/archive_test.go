package verify_test

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/verify"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// buildArchive ingests the given files (name → content) into a new archive
// at dir, signer by signer: each signer in turn reopens the archive (key
// rotation, signed by the signer before, continues the chain).
func buildArchive(t *testing.T, dir string, opts archive.Options, batches ...batch) {
	t.Helper()
	src := t.TempDir()
	for i, b := range batches {
		opts.Signer, opts.Logger = b.signer, quiet
		var w *archive.Writer
		var err error
		if i == 0 {
			w, err = archive.Create(dir, opts)
		} else {
			// A new key is introduced by a rotation the previous one signs.
			w, err = archive.OpenWriter(dir, archive.Options{Signer: b.signer, PreviousSigner: batches[i-1].signer, Logger: quiet})
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range slices.Sorted(maps.Keys(b.files)) {
			p := filepath.Join(src, filepath.FromSlash(name))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, b.files[name], 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Ingest(p, name); err != nil {
				t.Fatalf("ingest %s: %v", name, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

type batch struct {
	signer *timeline.Signer
	files  map[string][]byte
}

func copyArchive(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func writeOver(t *testing.T, path string, data []byte) {
	t.Helper()
	os.Chmod(path, 0o644)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func audit(t *testing.T, dir string, trust *verify.Trust, opts verify.ArchiveOptions) (*verify.ArchiveResult, []string, verify.Verdict) {
	t.Helper()
	res, err := verify.Archive(context.Background(), dir, trust, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkSpooled(t, dir, trust, opts, res)
	var codes []string
	vs := []verify.Verdict{res.Verdict}
	for _, f := range res.Findings {
		codes = append(codes, f.Code)
	}
	for _, it := range res.Items {
		vs = append(vs, it.Verdict)
		for _, f := range it.Findings {
			codes = append(codes, f.Code)
		}
	}
	return res, codes, verify.Combine(vs...)
}

// checkSpooled audits again with the items spooled to a file: the same
// items come back, in the same order, with the same counts.
func checkSpooled(t *testing.T, dir string, trust *verify.Trust, opts verify.ArchiveOptions, want *verify.ArchiveResult) {
	t.Helper()
	opts.Spool, opts.SpoolDir = true, t.TempDir()
	res, err := verify.Archive(context.Background(), dir, trust, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Items != nil || !res.Spooled() {
		t.Fatalf("spooled result holds %d items in memory", len(res.Items))
	}
	var got []*verify.ItemResult
	for range 2 { // as often as needed
		got = got[:0]
		if err := res.EachItem(func(it *verify.ItemResult) bool { got = append(got, it); return true }); err != nil {
			t.Fatal(err)
		}
	}
	var counts verify.ItemCounts
	for _, it := range want.Items {
		counts.Items++
		counts.Bytes += it.Size
		for _, f := range it.Findings {
			if f.Severity == verify.SevWarning {
				counts.Warnings++
			}
		}
		switch it.Verdict {
		case verify.Passed:
			counts.Passed++
		case verify.Failed:
			counts.Failed++
		default:
			counts.Indeterminate++
		}
	}
	a, _ := json.Marshal(want.Items)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Errorf("spooled items differ:\nmemory:  %s\nspooled: %s", a, b)
	}
	if want.Counts != counts || res.Counts != counts {
		t.Errorf("counts: memory %+v, spooled %+v, want %+v", want.Counts, res.Counts, counts)
	}
	if res.Missing != want.Missing || res.Unlisted != want.Unlisted || res.Verdict != want.Verdict || len(res.Findings) != len(want.Findings) {
		t.Errorf("spooled result %+v, memory %+v", res, want)
	}
	if err := res.Close(); err != nil {
		t.Error(err)
	}
	if left, _ := os.ReadDir(opts.SpoolDir); len(left) != 0 {
		t.Errorf("spool files left behind: %v", left)
	}
}

// TestArchiveTamperMatrix: a real archive with JSON and WAV entries, two
// signers (one behind an intermediate CA, on another curve), tampered in
// every way the issue lists; each is caught with its code and verdict.
func TestArchiveTamperMatrix(t *testing.T) {
	root := testpki.CA(t, testpki.Options{CN: "Evidence Root"})
	inter := testpki.Intermediate(t, root, testpki.Options{CN: "Recorder Intermediate"})
	s1 := testpki.Signer(t, testpki.Leaf(t, root, testpki.Options{CN: "recorder-1"}))
	s2 := testpki.Signer(t, testpki.Leaf(t, inter, testpki.Options{CN: "recorder-2", Curve: elliptic.P384()}), inter)
	trust := verify.NewTrust([]*x509.Certificate{root.Cert})
	now := time.Now()
	files1 := map[string][]byte{
		"events/e1.json": samples.EventJSON(1, now, "audio/r1.wav"),
		"events/e2.json": samples.EventJSON(2, now, "audio/r1.wav"),
		"audio/r1.wav":   samples.WAV(8000, 0.5, 440),
	}
	files2 := map[string][]byte{
		"events/e3.json": samples.EventJSON(3, now, "audio/r2.wav"),
		"audio/r2.wav":   samples.WAV(8000, 0.3, 300),
	}
	base := filepath.Join(t.TempDir(), "base")
	buildArchive(t, base, archive.Options{ChainID: "recorder-a"}, batch{s1, files1}, batch{s2, files2})
	witness, err := os.ReadFile(filepath.Join(base, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}

	// Another archive by another signer, for "replace with a validly
	// sealed file".
	otherDir := filepath.Join(t.TempDir(), "other")
	buildArchive(t, otherDir, archive.Options{ChainID: "recorder-b"}, batch{s1, map[string][]byte{"events/e1.json": samples.EventJSON(9, now, "x.wav")}})

	f := func(dir, name string) string { return filepath.Join(dir, "files", filepath.FromSlash(name)) }
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name    string
		tamper  func(dir string) string // returns the dir to audit
		opts    verify.ArchiveOptions
		trust   *verify.Trust
		want    string
		verdict verify.Verdict
	}{
		{"untouched", func(d string) string { return d }, verify.ArchiveOptions{}, nil, "", verify.Passed},
		{"untouched with witness", func(d string) string { return d }, verify.ArchiveOptions{Witness: witness}, nil, "", verify.Passed},
		{"deleted file", func(d string) string { os.Remove(f(d, "events/e2.json")); return d }, verify.ArchiveOptions{}, nil, "log.entryMissingFile", verify.Failed},
		{"inserted file", func(d string) string {
			os.WriteFile(f(d, "events/e9.json"), read(f(d, "events/e1.json")), 0o644)
			return d
		}, verify.ArchiveOptions{}, nil, "log.unlistedFile", verify.Failed},
		{"reordered files", func(d string) string {
			a, b := read(f(d, "events/e1.json")), read(f(d, "events/e2.json"))
			writeOver(t, f(d, "events/e1.json"), b)
			writeOver(t, f(d, "events/e2.json"), a)
			return d
		}, verify.ArchiveOptions{}, nil, "log.entryMismatch", verify.Failed},
		{"replaced by a validly sealed file of another archive", func(d string) string {
			writeOver(t, f(d, "events/e1.json"), read(f(otherDir, "events/e1.json")))
			return d
		}, verify.ArchiveOptions{}, nil, "log.entryMismatch", verify.Failed},
		{"replaced by a file sealed by another signer", func(d string) string {
			p := filepath.Join(t.TempDir(), "e.json")
			os.WriteFile(p, files1["events/e1.json"], 0o644)
			if _, err := timeline.SealFile(p, p+".sealed", false, timeline.SealOptions{Name: "events/e1.json", Signer: s2}); err != nil {
				t.Fatal(err)
			}
			writeOver(t, f(d, "events/e1.json"), read(p+".sealed"))
			return d
		}, verify.ArchiveOptions{}, nil, "log.entryMismatch", verify.Failed},
		{"modified byte", func(d string) string {
			b := read(f(d, "audio/r1.wav"))
			b[500] ^= 1
			writeOver(t, f(d, "audio/r1.wav"), b)
			return d
		}, verify.ArchiveOptions{}, nil, "content.digestMismatch", verify.Failed},
		{"truncated log", func(d string) string {
			p := filepath.Join(d, "log", "entries")
			st, _ := os.Stat(p)
			os.Chmod(p, 0o644)
			os.Truncate(p, st.Size()-10)
			return d
		}, verify.ArchiveOptions{}, nil, "log.truncated", verify.Failed},
		{"log rewritten and re-signed with the same key", func(string) string {
			// The key holder rebuilds the chain without the last entries and
			// signs a checkpoint of it: internally consistent, trusted, and
			// caught only against the witness saved by an earlier audit.
			d := filepath.Join(t.TempDir(), "rewritten")
			buildArchive(t, d, archive.Options{ChainID: "recorder-a"}, batch{s1, files1})
			return d
		}, verify.ArchiveOptions{Witness: witness}, nil, "log.inconsistentWithWitness", verify.Failed},
		{"rewritten checkpoint", func(d string) string {
			p := filepath.Join(d, "checkpoint")
			b := read(p)
			b[len(b)/2] ^= 1
			writeOver(t, p, b)
			return d
		}, verify.ArchiveOptions{}, nil, "log.checkpointInvalid", verify.Failed},
		{"untrusted anchors", func(d string) string { return d }, verify.ArchiveOptions{},
			verify.NewTrust([]*x509.Certificate{testpki.CA(t, testpki.Options{CN: "Some Other Root"}).Cert}), "cert.untrusted", verify.Indeterminate},
		{"no anchors", func(d string) string { return d }, verify.ArchiveOptions{}, verify.NewTrust(nil), "log.checkpointUntrusted", verify.Indeterminate},
	}
	// Archives made by problem signers.
	signerCase := func(name string, s *timeline.Signer, want string, v verify.Verdict) {
		cases = append(cases, struct {
			name    string
			tamper  func(dir string) string
			opts    verify.ArchiveOptions
			trust   *verify.Trust
			want    string
			verdict verify.Verdict
		}{name, func(string) string {
			d := filepath.Join(t.TempDir(), "a")
			buildArchive(t, d, archive.Options{}, batch{s, map[string][]byte{"e.json": samples.EventJSON(1, now, "r.wav"), "r.wav": samples.WAV(8000, 0.1, 440)}})
			return d
		}, verify.ArchiveOptions{}, nil, want, v})
	}
	signerCase("expired signer", testpki.Signer(t, testpki.Leaf(t, root, testpki.Options{CN: "expired", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})), "cert.expired", verify.Failed)
	signerCase("signer from an untrusted CA", testpki.Signer(t, testpki.Leaf(t, testpki.CA(t, testpki.Options{CN: "Rogue CA"}), testpki.Options{})), "cert.untrusted", verify.Indeterminate)
	signerCase("wrong key usage", testpki.Signer(t, testpki.Leaf(t, root, testpki.Options{CN: "keyEncipherment only", KeyUsage: x509.KeyUsageKeyEncipherment})), "cert.keyUsage", verify.Failed)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := c.tamper(copyArchive(t, base))
			tr := c.trust
			if tr == nil {
				tr = trust
			}
			_, codes, verdict := audit(t, dir, tr, c.opts)
			t.Logf("%s: %v", verdict, codes)
			if c.want == "" {
				if len(codes) != 0 {
					t.Errorf("untouched archive: findings %v", codes)
				}
			} else if !slices.Contains(codes, c.want) {
				t.Errorf("findings %v, want %s", codes, c.want)
			}
			if verdict != c.verdict {
				t.Errorf("verdict %s, want %s (findings %v)", verdict, c.verdict, codes)
			}
		})
	}
}

// An untouched archive of 1,000 entries yields no finding at all.
func TestArchiveNoFalseAlarms(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	ca := testpki.CA(t, testpki.Options{})
	s := testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{}))
	files := map[string][]byte{}
	for i := range n {
		name := "events/" + time.Unix(int64(i), 0).UTC().Format("150405") + ".json"
		if i%50 == 0 {
			name = "audio/" + time.Unix(int64(i), 0).UTC().Format("150405") + ".wav"
			files[name] = samples.WAV(8000, 0.05, float64(200+i))
			continue
		}
		files[name] = samples.EventJSON(i, time.Unix(int64(i), 0), "a.wav")
	}
	dir := filepath.Join(t.TempDir(), "big")
	buildArchive(t, dir, archive.Options{CheckpointEvery: 250}, batch{s, files})
	res, codes, verdict := audit(t, dir, verify.NewTrust([]*x509.Certificate{ca.Cert}), verify.ArchiveOptions{})
	if len(codes) != 0 || verdict != verify.Passed || len(res.Items) != n || res.Entries != int64(n) {
		t.Fatalf("%d items, %d entries, verdict %s, findings %v", len(res.Items), res.Entries, verdict, codes)
	}
}
