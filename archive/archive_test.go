package archive

import (
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/timeline"
)

func TestIngestReopenVerify(t *testing.T) {
	env := newEnv(t)
	dir := filepath.Join(t.TempDir(), "arch")
	w, err := Create(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	var entries []*Entry
	for i := 1; i <= 5; i++ {
		e, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	wav := env.write("rec/rec-0001.wav", samples.WAV(8000, 0.5, 440))
	e, err := w.Ingest(wav, "rec/rec-0001.wav")
	if err != nil {
		t.Fatal(err)
	}
	entries = append(entries, e)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != 6 {
		t.Fatalf("size %d", r.Size())
	}
	cp, key, err := r.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 6 || cp.Origin != DefaultOrigin(r.Metadata().ChainID) || !key.Cert.Equal(env.leaf.Cert) {
		t.Fatalf("checkpoint %+v", cp)
	}
	prev := ""
	var i int64
	for got, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		want := entries[i]
		if got.Seq != i+1 || got.ArchiveName != want.ArchiveName || string(got.EnvelopeBytes) != string(want.EnvelopeBytes) {
			t.Fatalf("entry %d: %+v", i, got)
		}
		c := got.Envelope.Chain
		if c == nil || c.ID != r.Metadata().ChainID || c.Seq != i+1 || c.Prev != prev {
			t.Fatalf("entry %d chain %+v", i, c)
		}
		prev = got.EnvelopeSHA256()
		// The file in files/ carries exactly the logged seal.
		f, err := os.Open(r.FilePath(got))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		o, err := timeline.Open(f, st.Size())
		f.Close()
		if err != nil || len(o.Problems) > 0 || string(o.EnvelopeBytes) != string(got.EnvelopeBytes) {
			t.Fatalf("entry %d file: %v %v", i, err, o.Problems)
		}
		if _, err := timeline.VerifySignature(o.Envelope); err != nil {
			t.Fatal(err)
		}
		byIndex, err := r.Entry(i)
		if err != nil || byIndex.ArchiveName != got.ArchiveName {
			t.Fatalf("Entry(%d): %v", i, err)
		}
		p, err := r.Prove(got)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseProof(p.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyProof(parsed, cp.Origin, nil, key.Cert.PublicKey); err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
		i++
	}
	roots := x509.NewCertPool()
	roots.AddCert(env.ca.Cert)
	mustCheck(t, dir, CheckOptions{Roots: roots})

	// The untrusted case.
	other := newEnv(t)
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(other.ca.Cert)
	res := mustCheck(t, dir, CheckOptions{Roots: otherRoots}, CodeCheckpointUntrusted)
	if !res.Has(CodeCheckpointUntrusted) {
		t.Fatal("untrusted checkpoint signer not reported")
	}
}

func TestVersionsAndLookup(t *testing.T) {
	env := newEnv(t)
	dir := t.TempDir()
	w, err := Create(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	src := env.writeJSON("a.json", 1)
	e1, err := w.Ingest(src, "a.json")
	if err != nil {
		t.Fatal(err)
	}
	env.writeJSON("a.json", 2)
	e2, err := w.Ingest(src, "a.json")
	if err != nil {
		t.Fatal(err)
	}
	e3, err := w.Ingest(env.writeJSON("b", 3), "notes/b")
	if err != nil {
		t.Fatal(err)
	}
	e4, err := w.Ingest(src, "a.json")
	if err != nil {
		t.Fatal(err)
	}
	if e1.ArchiveName != "a.json" || e2.ArchiveName != "a.v2.json" || e4.ArchiveName != "a.v3.json" || e3.ArchiveName != "notes/b" {
		t.Fatalf("names %s %s %s %s", e1.ArchiveName, e2.ArchiveName, e3.ArchiveName, e4.ArchiveName)
	}
	if e1.PrevVersion != 0 || e2.PrevVersion != 1 || e4.PrevVersion != 2 || e3.PrevVersion != 0 {
		t.Fatalf("prev versions %d %d %d %d", e1.PrevVersion, e2.PrevVersion, e3.PrevVersion, e4.PrevVersion)
	}
	if e2.Name != "a.json" {
		t.Fatalf("source name %q", e2.Name)
	}
	w.Close()
	// A reopened writer continues the versions.
	w, err = OpenWriter(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	e5, err := w.Ingest(src, "a.json")
	if err != nil || e5.ArchiveName != "a.v4.json" || e5.PrevVersion != 4 {
		t.Fatalf("after reopen: %v %+v", err, e5)
	}
	w.Close()

	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for name, seq := range map[string]int64{"a.json": 1, "a.v2.json": 2, "notes/b": 3, "a.v4.json": 5} {
		e, err := r.Lookup(name)
		if err != nil || e.Seq != seq {
			t.Errorf("Lookup(%s) = %v, %v", name, e, err)
		}
	}
	if _, err := r.Lookup("nope.json"); ReasonOf(err) != ReasonNotFound {
		t.Errorf("Lookup(nope) = %v", err)
	}
	mustCheck(t, dir, CheckOptions{})
}

func TestVersionName(t *testing.T) {
	for _, c := range []struct {
		in   string
		k    int
		want string
	}{
		{"a.json", 1, "a.json"}, {"a.json", 2, "a.v2.json"}, {"d/rec.wav", 10, "d/rec.v10.wav"},
		{"notes", 2, "notes.v2"}, {".profile", 3, ".profile.v3"}, {"x.tar.gz", 2, "x.tar.v2.gz"},
	} {
		if got := VersionName(c.in, c.k); got != c.want {
			t.Errorf("VersionName(%q, %d) = %q, want %q", c.in, c.k, got, c.want)
		}
	}
}

func TestInvalidNames(t *testing.T) {
	env := newEnv(t)
	w, err := Create(t.TempDir(), env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	src := env.writeJSON("x.json", 1)
	for _, name := range []string{"", "/abs.json", "../up.json", "a/../b.json", "a//b.json", "a/", "./a.json", "a\\b.json", "bad\x01.json", "\xff.json"} {
		if _, err := w.Ingest(src, name); ReasonOf(err) != ReasonInvalidName {
			t.Errorf("Ingest(%q) = %v, want InvalidName", name, err)
		}
	}
	if w.Size() != 0 {
		t.Fatalf("size %d", w.Size())
	}
}

func TestSealErrorsLeaveNothing(t *testing.T) {
	env := newEnv(t)
	dir := t.TempDir()
	w, err := Create(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	bad := env.write("bad.json", []byte("[1,2,3]"))
	if _, err := w.Ingest(bad, "bad.json"); ReasonOf(err) != ReasonSeal {
		t.Fatalf("Ingest(array) = %v", err)
	}
	var te *timeline.Error
	if _, err := w.Ingest(bad, "bad.json"); !errors.As(err, &te) || te.Reason != timeline.ReasonNotObject {
		t.Fatalf("not a wrapped timeline error: %v", err)
	}
	if _, err := w.Ingest(filepath.Join(env.src, "missing.json"), "missing.json"); ReasonOf(err) != ReasonIO {
		t.Fatalf("Ingest(missing) = %v", err)
	}
	if _, err := w.Ingest(env.writeJSON("ok.json", 1), "ok.json"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	mustCheck(t, dir, CheckOptions{})
	des, _ := os.ReadDir(filepath.Join(dir, tmpDir))
	if len(des) != 0 {
		t.Fatalf("tmp/ holds %d files", len(des))
	}
}

func TestLock(t *testing.T) {
	env := newEnv(t)
	dir := t.TempDir()
	w, err := Create(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenWriter(dir, env.opts(nil))
	if ReasonOf(err) != ReasonLocked || !strings.Contains(err.Error(), "one writer at a time") {
		t.Fatalf("second writer: %v", err)
	}
	// Readers need no lock.
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	w.Close()
	w, err = OpenWriter(dir, env.opts(nil))
	if err != nil {
		t.Fatalf("after close: %v", err)
	}
	w.Close()
	if _, err := Create(dir, env.opts(nil)); ReasonOf(err) != ReasonExists {
		t.Fatalf("Create on an archive: %v", err)
	}
	if _, err := OpenWriter(t.TempDir(), env.opts(nil)); ReasonOf(err) != ReasonNotArchive {
		t.Fatalf("OpenWriter on an empty dir: %v", err)
	}
}

func TestCheckpointEveryAndInterval(t *testing.T) {
	env := newEnv(t)
	dir := t.TempDir()
	opts := env.opts(nil)
	opts.CheckpointEvery = 3
	w, err := Create(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	cpSize := func() int64 {
		r, err := OpenReader(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		cp, _, err := r.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		return cp.Size
	}
	for i := 1; i <= 4; i++ {
		if _, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := cpSize(); got != 3 {
		t.Fatalf("checkpoint size %d after 4 entries, every 3", got)
	}
	w.Close()
	if got := cpSize(); got != 4 {
		t.Fatalf("checkpoint size %d after close", got)
	}

	opts.CheckpointEvery = -1
	opts.CheckpointInterval = 50 * 1e6 // 50ms
	w, err = OpenWriter(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Ingest(env.writeJSON(eventName(5), 5), eventName(5)); err != nil {
		t.Fatal(err)
	}
	for deadline := 0; cpSize() != 5; deadline++ {
		if deadline > 200 {
			t.Fatal("no checkpoint after the interval")
		}
		sleepMS(10)
	}
}

func TestConsistencyProofs(t *testing.T) {
	env := newEnv(t)
	dir := t.TempDir()
	w, err := Create(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	var cps []*Checkpoint
	for i := 1; i <= 13; i++ {
		if _, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i)); err != nil {
			t.Fatal(err)
		}
		cp, err := w.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, cp)
	}
	w.Close()
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, a := range cps {
		for _, b := range cps {
			if a.Size > b.Size {
				continue
			}
			p, err := r.ConsistencyProof(a.Size, b.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(a, b, p); err != nil {
				t.Fatalf("%d→%d: %v", a.Size, b.Size, err)
			}
			if a.Size < b.Size && len(p) > 0 {
				p[0][0] ^= 1
				if err := VerifyConsistency(a, b, p); err == nil {
					t.Fatalf("%d→%d: a bad proof verified", a.Size, b.Size)
				}
			}
		}
		if err := r.VerifyCheckpointAgainst(a); err != nil {
			t.Fatal(err)
		}
		// A saved checkpoint is accepted as a witness by Check.
		mustCheck(t, dir, CheckOptions{Witness: a.Note, SkipFiles: true})
	}
	forged := *cps[4]
	forged.Root = tlog.Hash{1}
	if err := r.VerifyCheckpointAgainst(&forged); err == nil {
		t.Fatal("a forged checkpoint is consistent")
	}
}

func TestSources(t *testing.T) {
	env := newEnv(t)
	env.writeJSON("rec/b.json", 1)
	env.writeJSON("rec/a/c.json", 2)
	one := env.writeJSON("one.json", 3)
	got, err := Sources([]string{filepath.Join(env.src, "rec"), one})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/c.json", "b.json", "one.json"}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i].Name != want[i] {
			t.Errorf("source %d: %q, want %q", i, got[i].Name, want[i])
		}
	}
	if _, err := Sources([]string{filepath.Join(env.src, "missing")}); ReasonOf(err) != ReasonIO {
		t.Errorf("missing: %v", err)
	}
}

func TestCheckpointParsing(t *testing.T) {
	env := newEnv(t)
	s, err := newNoteSigner("example.org/log", env.signer.Key, false)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := signCheckpoint("example.org/log", 7, tlog.Hash{9}, s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCheckpoint(msg, "example.org/log", env.signer.Cert.PublicKey)
	if err != nil || c.Size != 7 || c.Root != (tlog.Hash{9}) {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := OpenCheckpoint(msg, "other.org/log", env.signer.Cert.PublicKey); err == nil {
		t.Error("accepted under another origin")
	}
	other := newEnv(t)
	var ce *CheckpointError
	if _, err := OpenCheckpoint(msg, "example.org/log", other.signer.Cert.PublicKey); !errors.As(err, &ce) || ce.Reason != ReasonBadSignature {
		t.Errorf("another key: %v", err)
	}
	p, err := ParseCheckpoint(msg)
	if err != nil || p.KeyHash != s.hash {
		t.Fatalf("ParseCheckpoint: %v", err)
	}
	for _, bad := range []string{
		"", "o\n7\n", "o\n07\nAA==\n", "o\n7\nAA==\n", "o o\n7\nCQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"o\n-1\nCQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "o\n7\nCQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
		"o\n99999999999999999999\nCQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	} {
		if _, err := ParseCheckpointBody([]byte(bad)); err == nil {
			t.Errorf("ParseCheckpointBody(%q) accepted", bad)
		}
	}
}

// Create is crash-atomic: it builds beside the target and renames, removes
// what an interrupted creation left, accepts an empty directory and refuses
// a non-empty one.
func TestCreateAtomic(t *testing.T) {
	env := newEnv(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "ev")
	left := filepath.Join(parent, ".ev.tlseal-new-42")
	os.MkdirAll(filepath.Join(left, "log"), 0o755)
	os.Mkdir(dir, 0o700) // an empty directory made by the operator
	w, err := Create(dir, Options{Signer: env.signer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("leftover of an interrupted creation still there: %v", err)
	}
	if !IsArchive(dir) {
		t.Fatal("no archive")
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("mode %v, want the operator's 0700", st.Mode().Perm())
	}
	if _, err := Create(dir, Options{Signer: env.signer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); ReasonOf(err) != ReasonExists {
		t.Errorf("creating over an archive: %v", err)
	}
	if des, _ := os.ReadDir(parent); len(des) != 1 {
		t.Errorf("parent holds %d entries, want only the archive", len(des))
	}
}
