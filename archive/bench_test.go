package archive

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/internal/atomicfile"
	"github.com/tlseal/tlseal/internal/samples"
)

// BenchmarkIngestJSON ingests small JSON event files with full durability
// (each: pending record, sealed file and its directory, log record, all
// fsynced; a checkpoint every 1000).
func BenchmarkIngestJSON(b *testing.B) {
	env := newEnv(b)
	src := env.writeJSON("event.json", 1)
	st, _ := os.Stat(src)
	o := env.opts(nil)
	w, err := Create(filepath.Join(b.TempDir(), "a"), o)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.SetBytes(st.Size())
	i := 0
	start := time.Now()
	for b.Loop() {
		i++
		if _, err := w.Ingest(src, fmt.Sprintf("d%03d/e%07d.json", i%100, i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "files/s")
}

// BenchmarkIngestWAV ingests a large WAV and, in the same run, copies the
// same bytes with cp(1) and with cp followed by fsync, and reports the
// ratios (ingest time / copy time).
func BenchmarkIngestWAV(b *testing.B) {
	mb := 64
	if s := os.Getenv("TLSEAL_BENCH_WAV_MB"); s != "" {
		mb, _ = strconv.Atoi(s)
	}
	env := newEnv(b)
	pcm := make([]byte, mb<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range pcm {
		pcm[i] = byte(r.Uint32())
	}
	src := env.write("rec.wav", samples.WAVFromPCM(48000, 2, 16, pcm))
	st, _ := os.Stat(src)
	cpPath, cpErr := exec.LookPath("cp")
	work := b.TempDir()
	w, err := Create(filepath.Join(work, "a"), env.opts(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.SetBytes(st.Size())
	var tIngest, tCp, tCpSync time.Duration
	i := 0
	copyOnce := func() {
		dst := filepath.Join(work, fmt.Sprintf("cp-%04d.wav", i))
		t0 := time.Now()
		if out, err := exec.Command(cpPath, src, dst).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v %s", err, out)
		}
		tCp += time.Since(t0)
		f, err := os.Open(dst)
		if err != nil {
			b.Fatal(err)
		}
		f.Sync()
		f.Close()
		atomicfile.SyncDir(work)
		tCpSync += time.Since(t0)
		os.Remove(dst)
	}
	for b.Loop() {
		i++
		// Alternate the order so that neither side inherits the other's
		// write-back.
		if cpErr == nil && i%2 == 0 {
			b.StopTimer()
			copyOnce()
			b.StartTimer()
		}
		t0 := time.Now()
		if _, err := w.Ingest(src, fmt.Sprintf("rec-%04d.wav", i)); err != nil {
			b.Fatal(err)
		}
		tIngest += time.Since(t0)
		if cpErr == nil && i%2 == 1 {
			b.StopTimer()
			copyOnce()
			b.StartTimer()
		}
	}
	mbs := func(d time.Duration) float64 { return float64(st.Size()) * float64(i) / d.Seconds() / 1e6 }
	b.ReportMetric(mbs(tIngest), "ingest-MB/s")
	if cpErr == nil {
		b.ReportMetric(mbs(tCp), "cp-MB/s")
		b.ReportMetric(tIngest.Seconds()/tCp.Seconds(), "x-cp")
		b.ReportMetric(tIngest.Seconds()/tCpSync.Seconds(), "x-cp+fsync")
	}
}

// buildSyntheticLog writes an archive of n entries directly (no sealed
// files: the envelopes are placeholders), with its stored hashes, index and
// a signed checkpoint: what proofs and opening need, built in seconds.
func buildSyntheticLog(tb testing.TB, env *testEnv, dir string, n int64) {
	tb.Helper()
	w, err := Create(dir, env.opts(nil))
	if err != nil {
		tb.Fatal(err)
	}
	w.Close()
	create := func(name string) (*os.File, *bufio.Writer) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		return f, bufio.NewWriterSize(f, 1<<20)
	}
	ef, eb := create(entriesFile)
	hf, hb := create(hashesFile)
	xf, xb := create(indexFile)
	var fr frontier
	var off int64
	for i := int64(0); i < n; i++ {
		name := fmt.Sprintf("d%03d/e%07d.json", i%1000, i)
		env := []byte(fmt.Sprintf(`{"synthetic":%d,"name":%q}`, i, name))
		r := &record{Seq: i + 1, SealedSize: 1000, ArchiveName: name, Envelope: env}
		rb := r.marshal()
		eb.Write(rb)
		hs, err := tlog.StoredHashes(i, env, &fr)
		if err != nil {
			tb.Fatal(err)
		}
		for lvl, h := range hs {
			fr.h[lvl] = h
			hb.Write(h[:])
		}
		xb.Write((&indexRecord{Offset: off, Length: len(rb), Seq: i + 1, NameHash: nameHash(name), SrcHash: nameHash("")}).marshal())
		off += int64(len(rb))
	}
	for _, p := range []struct {
		f *os.File
		b *bufio.Writer
	}{{ef, eb}, {hf, hb}, {xf, xb}} {
		if err := p.b.Flush(); err != nil {
			tb.Fatal(err)
		}
		p.f.Close()
	}
	root, _ := tlog.TreeHash(n, &fr)
	meta, _ := ReadMetadata(dir)
	s, _ := newNoteSigner(meta.Origin, env.signer.Key, false)
	msg, err := signCheckpoint(meta.Origin, n, root, s)
	if err != nil {
		tb.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, checkpointFile), msg, 0o644)
}

// BenchmarkLargeLog measures, on a log of 1,000,000 entries (override with
// TLSEAL_BENCH_ENTRIES): opening a reader, an inclusion proof (entry read,
// proof, tlog-proof text), a consistency proof, and a lookup by name.
func BenchmarkLargeLog(b *testing.B) {
	n := int64(1_000_000)
	if s := os.Getenv("TLSEAL_BENCH_ENTRIES"); s != "" {
		n, _ = strconv.ParseInt(s, 10, 64)
	}
	env := newEnv(b)
	dir := filepath.Join(b.TempDir(), "a")
	t0 := time.Now()
	buildSyntheticLog(b, env, dir, n)
	b.Logf("built a %d-entry log in %v", n, time.Since(t0).Round(time.Millisecond))

	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			r, err := OpenReader(dir)
			if err != nil {
				b.Fatal(err)
			}
			if r.Size() != n {
				b.Fatal(r.Size())
			}
			r.Close()
		}
	})
	r, err := OpenReader(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	b.Run("prove", func(b *testing.B) {
		for b.Loop() {
			e, err := r.Entry(rng.Int64N(n))
			if err != nil {
				b.Fatal(err)
			}
			p, err := r.Prove(e)
			if err != nil {
				b.Fatal(err)
			}
			_ = p.Marshal()
		}
	})
	b.Run("consistency", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.ConsistencyProof(1+rng.Int64N(n-1), n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lookup", func(b *testing.B) {
		for b.Loop() {
			i := rng.Int64N(n)
			e, err := r.Lookup(fmt.Sprintf("d%03d/e%07d.json", i%1000, i))
			if err != nil || e.Index != i {
				b.Fatal(err)
			}
		}
	})
}

// TestOpenLargeLog checks that opening does not depend on the log's size:
// a log of 200,000 entries (1,000,000 with TLSEAL_LARGE_TESTS=1) opens in
// well under a second and serves a verified proof.
func TestOpenLargeLog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a large log")
	}
	n := int64(200_000)
	if os.Getenv("TLSEAL_LARGE_TESTS") == "1" {
		n = 1_000_000
	}
	env := newEnv(t)
	dir := filepath.Join(t.TempDir(), "a")
	buildSyntheticLog(t, env, dir, n)
	t0 := time.Now()
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e, err := r.Entry(n / 3)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Prove(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyProof(p, r.Metadata().Origin, nil, env.signer.Cert.PublicKey); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("open and prove at %d entries took %v", n, d)
	} else {
		t.Logf("open + entry + proof at %d entries: %v", n, d)
	}
	// The writer opens as fast (recovery reads the tail only).
	t0 = time.Now()
	w, err := OpenWriter(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("OpenWriter at %d entries took %v", n, d)
	} else {
		t.Logf("OpenWriter at %d entries: %v", n, d)
	}
	// The first ingest builds the name index (a scan of log/index).
	t0 = time.Now()
	if _, err := w.Ingest(env.writeJSON("new.json", 1), "d000/e0000000.json"); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	e2, err := w.Ingest(env.writeJSON("new.json", 2), "d000/e0000000.json")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first ingest at %d entries: %v, second: %v", n, t1.Sub(t0), time.Since(t1))
	if e2.ArchiveName != "d000/e0000000.v3.json" {
		t.Errorf("archive name %s", e2.ArchiveName)
	}
	w.Close()
}
