package archive

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/samples"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// heapPeak samples the Go heap in use until stop is called.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// TestS3Performance (TLSEAL_S3_BENCH=1) measures issue 15's targets: the
// ingest of TLSEAL_S3_BENCH_JSON JSON events (10,000) and
// TLSEAL_S3_BENCH_WAVS WAVs of 10 MiB (20) into the loopback S3 server
// against the same ingest on disk (target: within 3x), and the check of
// that archive with 2 workers (within 2x the disk's), with the heap's peak
// for both. The figures go to the test log (docs/performance.md).
func TestS3Performance(t *testing.T) {
	if os.Getenv("TLSEAL_S3_BENCH") != "1" {
		t.Skip("TLSEAL_S3_BENCH=1 runs the S3 performance measurement (several minutes)")
	}
	_, loc := newS3Location(t)
	env := newEnv(t)
	nJSON, nWAV := envInt("TLSEAL_S3_BENCH_JSON", 10000), envInt("TLSEAL_S3_BENCH_WAVS", 20)
	type src struct{ path, name string }
	var srcs []src
	for i := 1; i <= nJSON; i++ {
		srcs = append(srcs, src{env.writeJSON(eventName(i), i), eventName(i)})
	}
	wav := samples.WAV(48000, 10<<20/96000.0, 440) // 10 MiB of samples
	for i := 1; i <= nWAV; i++ {
		name := fmt.Sprintf("audio/r%02d.wav", i)
		srcs = append(srcs, src{env.write(name, wav), name})
	}
	ingest := func(dir string, opts Options) (time.Duration, uint64) {
		stop := heapPeak()
		start := time.Now()
		w, err := Create(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range srcs {
			if _, err := w.Ingest(s.path, s.name); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return time.Since(start), stop()
	}
	audit := func(dir string) (time.Duration, uint64) {
		runtime.GC()
		stop := heapPeak()
		start := time.Now()
		res, err := Check(dir, CheckOptions{Jobs: 2})
		if err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		if len(res.Problems) > 0 || res.Size != int64(len(srcs)) {
			t.Fatalf("%s: %d entries, problems:\n%s", dir, res.Size, problemCodes(res))
		}
		return d, stop()
	}
	disk := filepath.Join(t.TempDir(), "archive")
	di, dim := ingest(disk, env.opts(nil))
	si, sim := ingest(loc, s3Opts(env))
	da, dam := audit(disk)
	sa, sam := audit(loc)
	// The store's own floor, in the same run: the requests the S3 writer
	// must make one after the other for each file (three PUTs: intent,
	// sealed file, log record; objects of those sizes in a scratch
	// prefix), and reading every object of the archive with 16 readers
	// (what an audit must read at least).
	st, err := openS3(loc)
	if err != nil {
		t.Fatal(err)
	}
	floorStart := time.Now()
	for i, s := range srcs {
		data, err := os.ReadFile(filePath(disk, s.name))
		if err != nil {
			t.Fatal(err)
		}
		scratch := fmt.Sprintf("floor/%d", i)
		for j, d := range [][]byte{make([]byte, 100), data, make([]byte, 1200)} {
			if err := st.putBytesOnce(fmt.Sprintf("%s/%d", scratch, j), d, nil, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	ingestFloor := time.Since(floorStart)
	var keys []string
	st.walk("", true, func(rel string, _ int64) error {
		// What an audit reads: not the intent records, not the scratch.
		if !strings.HasPrefix(rel, "floor/") && !strings.HasPrefix(rel, pendingDir+"/") {
			keys = append(keys, rel)
		}
		return nil
	})
	floorStart = time.Now()
	work := make(chan string)
	var fwg sync.WaitGroup
	for range 16 {
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			for k := range work {
				o, err := st.openObject(k)
				if err != nil {
					t.Error(err)
					continue
				}
				io.Copy(io.Discard, io.NewSectionReader(o, 0, o.size))
				o.Close()
			}
		}()
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	fwg.Wait()
	readFloor := time.Since(floorStart)
	t.Logf("the store's floor: %d x 3 PUTs one after the other %.1f s (S3 ingest %.2fx that); reading its %d objects with 16 readers %.1f s (S3 check %.2fx that)",
		len(srcs), ingestFloor.Seconds(), si.Seconds()/ingestFloor.Seconds(), len(keys), readFloor.Seconds(), sa.Seconds()/readFloor.Seconds())
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("ingest of %d JSON events and %d WAVs of 10 MiB: disk %.1f s, S3 %.1f s (%.2fx; target 3x); heap peak disk %.0f MiB, S3 %.0f MiB",
		nJSON, nWAV, di.Seconds(), si.Seconds(), si.Seconds()/di.Seconds(), mib(dim), mib(sim))
	t.Logf("check with 2 workers: disk %.1f s, S3 %.1f s (%.2fx; target 2x); heap peak disk %.0f MiB, S3 %.0f MiB",
		da.Seconds(), sa.Seconds(), sa.Seconds()/da.Seconds(), mib(dam), mib(sam))
	t.Logf("GOMAXPROCS %d, load average %s", runtime.GOMAXPROCS(0), loadAvg())
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return string(b[:min(len(b), 14)])
}
