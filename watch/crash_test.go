package watch

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/timeline"
)

// The crash tests re-execute the test binary as the watcher process
// (TestMain switches on envChild) and SIGKILL it at random points.
const (
	envChild = "TLSEAL_WATCH_TEST_CHILD"
	envSrc   = "TLSEAL_WATCH_TEST_SRC"
	envArch  = "TLSEAL_WATCH_TEST_ARCHIVE"
	envCert  = "TLSEAL_WATCH_TEST_CERT"
	envKey   = "TLSEAL_WATCH_TEST_KEY"
	envLog   = "TLSEAL_WATCH_TEST_LOG"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// childMain runs the watcher until SIGTERM: exit 0 after a clean shutdown,
// 3 when Run fails.
func childMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logf, err := os.OpenFile(os.Getenv(envLog), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer logf.Close()
	log := slog.New(slog.NewJSONHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("pid", os.Getpid())
	kp, err := tls.LoadX509KeyPair(os.Getenv(envCert), os.Getenv(envKey))
	if err != nil {
		log.Error("signer", "err", err)
		return 3
	}
	signer, err := timeline.NewSigner(kp.Leaf, nil, kp.PrivateKey.(crypto.Signer))
	if err != nil {
		log.Error("signer", "err", err)
		return 3
	}
	w, err := New(Config{
		Sources: []Source{{Dir: os.Getenv(envSrc)}}, Archive: os.Getenv(envArch), Signer: signer,
		QuietPeriod: 100 * time.Millisecond, MaxWait: 30 * time.Second,
		RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond,
		CheckpointEvery: 7, CheckpointInterval: 300 * time.Millisecond,
		Logger: log, Notifier: &recordingNotifier{},
	})
	if err == nil {
		err = w.Run(ctx)
	}
	if err != nil {
		log.Error("run", "err", err)
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

// crashWriter produces files while the watcher crashes and restarts: new
// JSON files (direct and renamed, some in new directories), WAVs written
// slowly, and new versions of files whose current version is archived.
type crashWriter struct {
	t    *testing.T
	src  string
	arch string
	rng  *rand.Rand

	mu   sync.Mutex
	want map[string][]string // every version written, in order
	cur  map[string]int      // name → current version number
	wg   sync.WaitGroup
	wavs atomic.Int32 // WAVs being written
	errs []error
}

func (cw *crashWriter) record(name string, v int, data []byte) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	cw.want[name] = append(cw.want[name], sha(data))
	cw.cur[name] = v
}

func (cw *crashWriter) fail(err error) {
	if err != nil {
		cw.mu.Lock()
		cw.errs = append(cw.errs, err)
		cw.mu.Unlock()
	}
}

func (cw *crashWriter) run(ctx context.Context) {
	i := 0
	lastRewrite := time.Now()
	for ctx.Err() == nil {
		i++
		switch k := cw.rng.IntN(10); {
		case k < 4:
			name := fmt.Sprintf("e%04d.json", i)
			data := eventData(i, 1)
			cw.fail(writeDirect(filepath.Join(cw.src, name), data, 3, time.Duration(cw.rng.IntN(30))*time.Millisecond))
			cw.record(name, 1, data)
		case k < 7:
			name := fmt.Sprintf("r%04d.json", i)
			data := eventData(i, 1)
			cw.fail(writeRename(filepath.Join(cw.src, name), data))
			cw.record(name, 1, data)
		case k < 8:
			dir := fmt.Sprintf("d%04d", i)
			os.MkdirAll(filepath.Join(cw.src, dir, "x"), 0o755)
			name := dir + "/x/e.json"
			data := eventData(i, 1)
			cw.fail(os.WriteFile(filepath.Join(cw.src, filepath.FromSlash(name)), data, 0o644))
			cw.record(name, 1, data)
		case k < 9 && cw.wavs.Load() < 2:
			name := fmt.Sprintf("w%04d.wav", i)
			wav := samples.WAV(8000, 0.5+cw.rng.Float64(), 200+float64(i%7)*50)
			pause := time.Duration(60+cw.rng.IntN(150)) * time.Millisecond
			placeholder := i%2 == 0
			cw.wg.Add(1)
			cw.wavs.Add(1)
			go func() {
				defer cw.wg.Done()
				defer cw.wavs.Add(-1)
				cw.fail(writeWAVSlowly(filepath.Join(cw.src, name), wav, 10, pause, placeholder))
				cw.record(name, 1, wav)
			}()
		default:
			if time.Since(lastRewrite) > 300*time.Millisecond {
				lastRewrite = time.Now()
				cw.rewriteArchived(i)
			}
		}
		time.Sleep(time.Duration(10+cw.rng.IntN(40)) * time.Millisecond)
	}
	cw.wg.Wait()
}

// rewriteArchived writes a new version of a JSON file whose current version
// the archive holds (so that every version has its chance to be archived).
func (cw *crashWriter) rewriteArchived(i int) {
	got := archiveContents(cw.t, cw.arch)
	cw.mu.Lock()
	var cands []string
	for name, shas := range cw.want {
		vs := got[name]
		if filepath.Ext(name) == ".json" && len(vs) == len(shas) && len(vs) > 0 && vs[len(vs)-1].SHA256 == shas[len(shas)-1] {
			cands = append(cands, name)
		}
	}
	cw.mu.Unlock()
	if len(cands) == 0 {
		return
	}
	name := cands[cw.rng.IntN(len(cands))]
	cw.mu.Lock()
	v := cw.cur[name] + 1
	cw.mu.Unlock()
	data := eventData(1000000+i, v)
	cw.fail(writeRename(filepath.Join(cw.src, filepath.FromSlash(name)), data))
	cw.record(name, v, data)
}

// TestCrashLoop: the watcher is SIGKILLed and restarted at random points
// (at least 50 times; 15 with -short) while the writer runs. Afterwards
// every version of every source file is archived exactly once and the
// archive audits clean.
func TestCrashLoop(t *testing.T) {
	kills := 60
	if testing.Short() {
		kills = 15
	}
	e := newEnv(t)
	certPath, keyPath := e.leaf.Write(t, e.dir, "signer")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(e.dir, "watcher.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			l := &logBuffer{}
			l.Write(b)
			t.Logf("watcher log (last 150 lines):\n%s", l.tail(150))
		}
	})
	start := func() *exec.Cmd {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=1", envSrc+"="+e.src, envArch+"="+e.arch,
			envCert+"="+certPath, envKey+"="+keyPath, envLog+"="+logPath)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	cw := &crashWriter{t: t, src: e.src, arch: e.arch, rng: rand.New(rand.NewPCG(seed, 8)),
		want: map[string][]string{}, cur: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); cw.run(ctx) }()

	began := time.Now()
	for k := 0; k < kills; k++ {
		cmd := start()
		var d time.Duration
		switch rng.IntN(4) {
		case 0:
			d = time.Duration(rng.IntN(30)) * time.Millisecond // during start-up and recovery
		case 1, 2:
			d = time.Duration(30+rng.IntN(300)) * time.Millisecond
		default:
			d = time.Duration(300+rng.IntN(700)) * time.Millisecond
		}
		time.Sleep(d)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if ee != nil && ee.ExitCode() == 3 {
			t.Fatalf("the watcher failed (run %d)", k)
		}
	}
	cancel()
	<-writerDone
	t.Logf("%d kills in %v", kills, time.Since(began).Round(time.Millisecond))
	for _, err := range cw.errs {
		t.Fatal(err)
	}

	// The last run: catch up, then a clean stop.
	cmd := start()
	waitFor(t, 120*time.Second, "every version to be archived", func() bool { return hasAll(t, e.arch, cw.want) })
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	versions := 0
	for _, v := range cw.want {
		versions += len(v)
	}
	t.Logf("%d files, %d versions archived exactly once", len(cw.want), versions)
	verifyArchive(t, e.arch, cw.want)
	// What the kills interrupted, as the recoveries logged it.
	logs, _ := os.ReadFile(logPath)
	for _, m := range []string{"removed an unfinished sealed file", "completed an ingest interrupted by a crash",
		"repaired a torn tail", "rebuilt hashes", "already archived", "state cache does not match"} {
		t.Logf("log: %q x%d", m, strings.Count(string(logs), m))
	}
}
