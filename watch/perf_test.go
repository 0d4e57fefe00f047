package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/softhsm"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/internal/testtsa"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/tokenkey"
)

// TestPerformance measures the figures of docs/performance.md (the watcher
// section). It runs only when TLSEAL_WATCH_BENCH is set, e.g.
//
//	TLSEAL_WATCH_BENCH=1 go test ./watch -run TestPerformance -v -timeout 30m
//
// Knobs (environment): TLSEAL_WATCH_BENCH_SMALL (small JSON files in the
// burst, default 10000), TLSEAL_WATCH_BENCH_WAVS (default 20),
// TLSEAL_WATCH_BENCH_WAV_MIB (default 10), TLSEAL_WATCH_BENCH_PACED (files
// written at 100 files/s, default 3000), TLSEAL_WATCH_BENCH_QUIET (quiet
// period, default the production default), TLSEAL_WATCH_BENCH_DIR (where
// the source and archive go; default a temporary directory),
// TLSEAL_WATCH_BENCH_PKCS11=1 (the burst again with the signer key in a
// SoftHSM2 token, issue 13; needs softhsm2 and opensc).
//
// Latency is from the writer's rename (write-then-rename, so the file is
// complete at that instant) to the archive entry being durable (Ingest
// returned: sealed file, directory and log record fsynced).
func TestPerformance(t *testing.T) {
	if os.Getenv("TLSEAL_WATCH_BENCH") == "" {
		t.Skip("set TLSEAL_WATCH_BENCH=1 to measure the watcher's throughput and latency")
	}
	small := envInt("TLSEAL_WATCH_BENCH_SMALL", 10000)
	wavs := envInt("TLSEAL_WATCH_BENCH_WAVS", 20)
	wavMiB := envInt("TLSEAL_WATCH_BENCH_WAV_MIB", 10)
	paced := envInt("TLSEAL_WATCH_BENCH_PACED", 3000)
	quiet := DefaultQuietPeriod
	if s := os.Getenv("TLSEAL_WATCH_BENCH_QUIET"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		quiet = d
	}
	wav := samples.WAV(8000, float64(wavMiB<<20)/16000, 440)
	burst := func(put func(name string, data []byte)) {
		for i := 0; i < small; i++ {
			put(fmt.Sprintf("events/%02d/e%05d.json", i%100, i), eventData(i, 1))
			if wavs > 0 && i%(small/wavs+1) == 0 {
				w := append([]byte(nil), wav...)
				w[len(w)-1] ^= byte(i) // distinct content
				put(fmt.Sprintf("rec/r%05d.wav", i), w)
			}
		}
	}
	t.Run("burst", func(t *testing.T) { runPerf(t, quiet, nil, burst) })
	if os.Getenv("TLSEAL_WATCH_BENCH_PKCS11") == "1" {
		t.Run("burst-pkcs11", func(t *testing.T) {
			runPerf(t, quiet, func(t *testing.T, e *testEnv, cfg *Config) { cfg.Signer = tokenSigner(t, e) }, burst)
		})
	}
	if os.Getenv("TLSEAL_WATCH_BENCH_TSA") == "1" {
		// Checkpoint tokens from a real TSA (openssl ts -reply) on loopback.
		t.Run("burst-tsa", func(t *testing.T) {
			a := testtsa.Start(t, testtsa.Options{})
			runPerf(t, quiet, func(t *testing.T, e *testEnv, cfg *Config) { tsaConfig(cfg, a.URL, false) }, burst)
			t.Logf("TSA requests: %d", a.Requests())
		})
	}
	t.Run("paced-100", func(t *testing.T) {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		runPerf(t, quiet, nil, func(put func(name string, data []byte)) {
			for i := 0; i < paced; i++ {
				<-tick.C
				put(fmt.Sprintf("events/%02d/e%05d.json", i%100, i), eventData(i, 1))
			}
		})
	})
}

// tokenSigner is a P-256 key generated inside a SoftHSM2 token, with a
// certificate from the environment's CA.
func tokenSigner(t *testing.T, e *testEnv) *timeline.Signer {
	tk := softhsm.Shared(t)
	label := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	tk.GenerateKey(t, label, fmt.Sprintf("%x", time.Now().UnixNano()), "prime256v1")
	k, err := tokenkey.Open(tk.URI(t, label))
	if err != nil {
		t.Fatal(err)
	}
	s, err := timeline.NewSigner(testpki.IssueFor(t, e.ca, k.Signer.Public(), testpki.Options{CN: label}), nil, k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func envInt(name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err == nil {
			return n
		}
	}
	return def
}

// runPerf starts a watcher, lets write produce files (put writes one with
// write-then-rename and records when), waits until all are archived and
// reports throughput and latency. setup, when set, changes the
// configuration (another signer, a TSA).
func runPerf(t *testing.T, quiet time.Duration, setup func(t *testing.T, e *testEnv, cfg *Config), write func(put func(name string, data []byte))) {
	e := newEnv(t)
	if d := os.Getenv("TLSEAL_WATCH_BENCH_DIR"); d != "" {
		base, err := os.MkdirTemp(d, "watch-bench-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(base) })
		e.src, e.arch = filepath.Join(base, "src"), filepath.Join(base, "archive")
		os.Mkdir(e.src, 0o755)
	}
	cfg := e.config()
	cfg.QuietPeriod = quiet
	cfg.CheckpointEvery, cfg.CheckpointInterval = 0, 0 // the defaults
	cfg.Logger = cfg.Logger.With()                     // debug logs into the buffer cost little
	if setup != nil {
		setup(t, e, &cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	renamed := map[string]time.Time{}
	sealedAt := map[string]time.Time{}
	var bytes int64
	w.onSealed = func(name string, at time.Time) {
		mu.Lock()
		sealedAt[name] = at
		mu.Unlock()
	}
	r := startWatcher(t, w)
	r.waitReady(t)
	dirs := map[string]bool{}
	put := func(name string, data []byte) {
		p := filepath.Join(e.src, filepath.FromSlash(name))
		if d := filepath.Dir(p); !dirs[d] {
			os.MkdirAll(d, 0o755)
			dirs[d] = true
		}
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		renamed[name] = time.Now()
		bytes += int64(len(data))
		mu.Unlock()
	}
	start := time.Now()
	write(put)
	wrote := time.Since(start)
	n := len(renamed)
	waitFor(t, 60*time.Minute, "every file to be archived", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sealedAt) >= n
	})
	r.stop(t)
	var last time.Time
	var lat []time.Duration
	for name, at := range sealedAt {
		lat = append(lat, at.Sub(renamed[name]))
		if at.After(last) {
			last = at
		}
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	total := last.Sub(start)
	t.Logf("%d files, %.1f MiB: written in %v, all archived after %v: %.0f files/s, %.1f MiB/s sustained (quiet period %v)",
		n, float64(bytes)/(1<<20), wrote.Round(time.Millisecond), total.Round(time.Millisecond),
		float64(n)/total.Seconds(), float64(bytes)/(1<<20)/total.Seconds(), quiet)
	t.Logf("latency rename → durable archive entry: p50 %v, p90 %v, p99 %v, max %v",
		q(0.5).Round(time.Millisecond), q(0.9).Round(time.Millisecond), q(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	st := w.Stats()
	t.Logf("watcher: sealed %d, errors %v, tokens %v, TSA failures %v", st.Sealed, nonZero(st.Errors), st.Timestamps, st.TimestampFailures)
}

func nonZero(m map[Reason]int64) map[Reason]int64 {
	out := map[Reason]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
