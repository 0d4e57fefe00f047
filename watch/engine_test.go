package watch

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The engine's timing, tested deterministically: inside a synctest bubble
// time only moves when every goroutine is blocked, so "sealed exactly one
// quiet period after the last write" is an equality, not a tolerance.

type fakeFile struct {
	size     int64
	mtime    time.Time
	complete bool
}

type fakeInfo struct{ f fakeFile }

func (i fakeInfo) Name() string       { return "f" }
func (i fakeInfo) Size() int64        { return i.f.size }
func (i fakeInfo) Mode() fs.FileMode  { return 0o644 }
func (i fakeInfo) ModTime() time.Time { return i.f.mtime }
func (i fakeInfo) IsDir() bool        { return false }
func (i fakeInfo) Sys() any           { return nil }

// fakeFS is the file system the engine and its fake worker see.
type fakeFS struct {
	mu    sync.Mutex
	files map[string]*fakeFile
}

func (f *fakeFS) stat(p string) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ff, ok := f.files[p]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return fakeInfo{*ff}, nil
}

func (f *fakeFS) write(p string, n int64, complete bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ff := f.files[p]
	if ff == nil {
		ff = &fakeFile{}
		f.files[p] = ff
	}
	ff.size += n
	ff.mtime = time.Now()
	ff.complete = complete
}

func (f *fakeFS) remove(p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.files, p)
}

// call is one job the fake worker got.
type call struct {
	path string
	at   time.Duration // since the test's start
	asIs bool
}

type engineHarness struct {
	t       *testing.T
	e       *engine
	fs      *fakeFS
	t0      time.Time
	mu      sync.Mutex
	calls   []call
	script  map[string][]outcome // outcomes to return, per path, in order (then the file's own state)
	cancel  context.CancelFunc
	done    chan error
	stopped *bool
}

func newHarness(t *testing.T, cfg Config) *engineHarness {
	if cfg.QuietPeriod == 0 {
		cfg.QuietPeriod = 500 * time.Millisecond
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 10 * time.Second
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin, cfg.RetryMax = time.Second, 8*time.Second
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 5 * time.Second
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	h := &engineHarness{t: t, fs: &fakeFS{files: map[string]*fakeFile{}}, t0: time.Now(), script: map[string][]outcome{}, done: make(chan error, 1)}
	h.e = newEngine(&cfg, newMetrics(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	h.e.stat = h.fs.stat
	h.e.work = h.work
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.e.run(ctx) }()
	stopped := false
	h.stopped = &stopped
	t.Cleanup(func() { // a failed test still ends the bubble's goroutines
		if !*h.stopped {
			cancel()
			<-h.done
		}
	})
	return h
}

func (h *engineHarness) work(ctx context.Context, j *job) (outcome, StatKey, error) {
	h.mu.Lock()
	h.calls = append(h.calls, call{path: j.path, at: time.Since(h.t0), asIs: j.asIs})
	var out outcome
	if s := h.script[j.path]; len(s) > 0 {
		out, h.script[j.path] = s[0], s[1:]
		h.mu.Unlock()
		return out, j.key, nil
	}
	h.mu.Unlock()
	fi, err := h.fs.stat(j.path)
	switch {
	case err != nil:
		return outVanished, j.key, nil
	case fi.(fakeInfo).f.complete || j.asIs:
		return outDone, j.key, nil
	}
	return outIncomplete, j.key, nil
}

// event reports a write (or any event) of p to the engine, as the event
// reader does.
func (h *engineHarness) event(p string) {
	h.e.touches <- touch{kind: tEvent, path: p, name: p}
}

func (h *engineHarness) write(p string, complete bool) {
	h.fs.write(p, 100, complete)
	h.event(p)
}

func (h *engineHarness) scan(p string) {
	fi, _ := h.fs.stat(p)
	h.e.touches <- touch{kind: tScan, path: p, name: p, fi: fi}
}

// sleepUntil moves the fake clock to t0+d and lets the engine settle.
func (h *engineHarness) sleepUntil(d time.Duration) {
	if rest := d - time.Since(h.t0); rest > 0 {
		time.Sleep(rest)
	}
	synctest.Wait()
}

func (h *engineHarness) callsFor(p string) []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []call
	for _, c := range h.calls {
		if c.path == p {
			out = append(out, c)
		}
	}
	return out
}

func (h *engineHarness) stop() {
	h.cancel()
	*h.stopped = true
	if err := <-h.done; err != nil {
		h.t.Fatalf("engine: %v", err)
	}
}

func wantCalls(t *testing.T, got []call, want ...time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("worker called %d times (%v), want %d (%v)", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i].at != want[i] {
			t.Fatalf("call %d at %v, want %v (all: %v)", i, got[i].at, want[i], got)
		}
	}
}

const ms = time.Millisecond

func TestEngineQuietPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{})
		h.write("/s/a.json", true)
		h.sleepUntil(499 * ms)
		wantCalls(t, h.callsFor("/s/a.json"))
		h.sleepUntil(500 * ms)
		wantCalls(t, h.callsFor("/s/a.json"), 500*ms)
		h.stop()
	})
}

func TestEngineEventsResetQuietPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{})
		h.write("/s/a.json", false)
		h.sleepUntil(300 * ms)
		h.write("/s/a.json", false)
		h.sleepUntil(600 * ms)
		h.write("/s/a.json", true)
		h.sleepUntil(1099 * ms)
		wantCalls(t, h.callsFor("/s/a.json"))
		h.sleepUntil(1100 * ms)
		wantCalls(t, h.callsFor("/s/a.json"), 1100*ms)
		h.stop()
	})
}

// A change seen without an event (a missed event) is caught by the stat:
// size or mtime differ from the last look, or the mtime is recent.
func TestEngineStatStability(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{})
		h.write("/s/a.json", false)
		h.sleepUntil(400 * ms)
		h.fs.write("/s/a.json", 10, true) // no event
		h.sleepUntil(500 * ms)            // due: the mtime is 100ms old
		wantCalls(t, h.callsFor("/s/a.json"))
		h.sleepUntil(900 * ms) // one quiet period after the mtime
		wantCalls(t, h.callsFor("/s/a.json"), 900*ms)

		// A scanned file with an old mtime is looked at at once, one
		// with a recent mtime a quiet period after it.
		h.fs.write("/s/old.json", 10, true)
		h.fs.write("/s/new.json", 10, true)
		h.sleepUntil(3 * time.Second)
		h.scan("/s/old.json")
		h.fs.write("/s/new.json", 10, true)
		h.scan("/s/new.json")
		h.sleepUntil(3 * time.Second)
		wantCalls(t, h.callsFor("/s/old.json"), 3*time.Second)
		h.sleepUntil(3500 * ms)
		wantCalls(t, h.callsFor("/s/new.json"), 3500*ms)
		h.stop()
	})
}

// An incomplete file is polled (1s, 2s, 4s, ...) and sealed as it is once
// it stayed unchanged for MaxWait; a writer coming back resets it.
func TestEngineIncompleteAndMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{MaxWait: 10 * time.Second})
		h.write("/s/rec.wav", false)
		h.sleepUntil(20 * time.Second)
		got := h.callsFor("/s/rec.wav")
		// 0.5 (stable), +1, +2, +4 = 7.5, then MaxWait after the last
		// write: 10 (as is).
		wantCalls(t, got, 500*ms, 1500*ms, 3500*ms, 7500*ms, 10*time.Second)
		for i, c := range got {
			if c.asIs != (i == len(got)-1) {
				t.Fatalf("call %d asIs=%v", i, c.asIs)
			}
		}

		// The writer comes back: the wait starts again from its write.
		h.write("/s/b.wav", false)
		h.sleepUntil(23 * time.Second)
		h.write("/s/b.wav", false)
		h.sleepUntil(40 * time.Second)
		got = h.callsFor("/s/b.wav")
		if last := got[len(got)-1]; !last.asIs || last.at != 33*time.Second {
			t.Fatalf("b.wav sealed as is at %v (asIs %v), want 33s; calls %v", last.at, last.asIs, got)
		}
		h.stop()
	})
}

func TestEngineRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{RetryMin: time.Second, RetryMax: 4 * time.Second})
		h.script["/s/a.json"] = []outcome{outRetry, outRetry, outRetry, outRetry, outRetry}
		h.write("/s/a.json", true)
		h.sleepUntil(30 * time.Second)
		// 0.5, then backoff 1, 2, 4, 4, 4 (capped).
		wantCalls(t, h.callsFor("/s/a.json"), 500*ms, 1500*ms, 3500*ms, 7500*ms, 11500*ms, 15500*ms)
		h.stop()
	})
}

// Events while a worker holds the file make it be looked at again
// afterwards; a change found by the worker restarts the quiet period.
func TestEngineBusyDirtyAndChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{})
		block := make(chan struct{})
		h.e.work = func(ctx context.Context, j *job) (outcome, StatKey, error) {
			out, key, err := h.work(ctx, j)
			if len(h.callsFor(j.path)) == 1 {
				<-block
			}
			return out, key, err
		}
		h.write("/s/a.json", true)
		h.sleepUntil(500 * ms) // worker holds it
		h.write("/s/a.json", true)
		h.sleepUntil(700 * ms)
		close(block)
		h.sleepUntil(2 * time.Second)
		wantCalls(t, h.callsFor("/s/a.json"), 500*ms, 1000*ms)

		h.script["/s/c.json"] = []outcome{outChanged}
		h.write("/s/c.json", true)
		h.sleepUntil(3 * time.Second)
		wantCalls(t, h.callsFor("/s/c.json"), 2500*ms, 3000*ms)
		h.stop()
	})
}

// A rejected file is not looked at again by scans until its stat changes;
// removed files are forgotten.
func TestEngineRejectedAndRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{})
		h.script["/s/x.txt"] = []outcome{outRejected}
		h.write("/s/x.txt", true)
		h.sleepUntil(time.Second)
		h.scan("/s/x.txt")
		h.sleepUntil(2 * time.Second)
		wantCalls(t, h.callsFor("/s/x.txt"), 500*ms)
		h.write("/s/x.txt", true)
		h.sleepUntil(3 * time.Second)
		wantCalls(t, h.callsFor("/s/x.txt"), 500*ms, 2500*ms)

		h.write("/s/gone.json", true)
		h.sleepUntil(3200 * ms)
		h.fs.remove("/s/gone.json")
		h.e.touches <- touch{kind: tRemove, path: "/s/gone.json"}
		h.sleepUntil(5 * time.Second)
		wantCalls(t, h.callsFor("/s/gone.json"))
		if len(h.e.items) != 0 {
			t.Fatalf("items left: %d", len(h.e.items))
		}

		// A removed directory drops the items below it.
		h.write("/s/d/1.json", false)
		h.write("/s/d/2.json", false)
		h.write("/s/e.json", false)
		h.e.touches <- touch{kind: tRemoveTree, path: "/s/d"}
		synctest.Wait()
		if len(h.e.items) != 1 {
			t.Fatalf("items after removing /s/d: %d, want 1", len(h.e.items))
		}
		h.stop()
	})
}

// Cancelling drains: files already queued are still handed to workers, the
// others are left for the next start.
func TestEngineDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{Workers: 1, DrainTimeout: 10 * time.Second})
		release := make(chan struct{})
		h.e.work = func(ctx context.Context, j *job) (outcome, StatKey, error) {
			out, key, err := h.work(ctx, j)
			if j.path == "/s/1.json" {
				<-release
			}
			return out, key, err
		}
		for _, p := range []string{"/s/1.json", "/s/2.json", "/s/3.json"} {
			h.write(p, true)
		}
		h.sleepUntil(600 * ms) // 1 in the worker, 2 and 3 queued
		h.write("/s/late.json", true)
		h.cancel()
		h.sleepUntil(700 * ms)
		close(release)
		*h.stopped = true
		if err := <-h.done; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for _, p := range []string{"/s/1.json", "/s/2.json", "/s/3.json"} {
			if len(h.callsFor(p)) != 1 {
				t.Fatalf("%s not sealed during the drain", p)
			}
		}
		if len(h.callsFor("/s/late.json")) != 0 {
			t.Fatalf("a file not yet stable was sealed during the drain")
		}
	})
}

// The drain gives up after its timeout: workers are told to stop.
func TestEngineDrainTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{Workers: 1, DrainTimeout: 2 * time.Second})
		h.e.work = func(ctx context.Context, j *job) (outcome, StatKey, error) {
			<-ctx.Done() // an archive that never comes back
			return outRetry, j.key, nil
		}
		h.write("/s/1.json", true)
		h.write("/s/2.json", true)
		h.sleepUntil(time.Second)
		h.cancel()
		*h.stopped = true
		start := time.Now()
		if err := <-h.done; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Fatalf("drain took %v, want the 2s timeout", d)
		}
	})
}

func TestBackoffAndPoll(t *testing.T) {
	e := &engine{retryMin: time.Second, retryMax: 10 * time.Second, quiet: 200 * ms, pollMax: 30 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 50: 10 * time.Second} {
		if got := e.backoff(n); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
	for n, want := range map[int]time.Duration{1: time.Second, 3: 4 * time.Second, 6: 30 * time.Second, 100: 30 * time.Second} {
		if got := e.poll(n); got != want {
			t.Errorf("poll(%d) = %v, want %v", n, got, want)
		}
	}
}
