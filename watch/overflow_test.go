package watch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

const maxQueuedEvents = "/proc/sys/fs/inotify/max_queued_events"

// lowerInotifyQueue sets fs.inotify.max_queued_events to n and returns a
// function restoring it, or nil when that is not permitted. The limit is
// taken when an inotify instance is created, so it is restored right after.
func lowerInotifyQueue(t *testing.T, n int) func() {
	old, err := os.ReadFile(maxQueuedEvents)
	if err != nil {
		t.Logf("cannot read %s (%v): flooding the default queue instead", maxQueuedEvents, err)
		return nil
	}
	if err := os.WriteFile(maxQueuedEvents, []byte(strconv.Itoa(n)), 0o644); err != nil {
		t.Logf("cannot lower %s (%v): flooding the default queue instead", maxQueuedEvents, err)
		return nil
	}
	restore := func() { os.WriteFile(maxQueuedEvents, old, 0o644) }
	t.Cleanup(restore)
	return restore
}

// TestOverflowRescan: more events than the kernel's queue holds (the queue
// is lowered when permitted, and flooded either way while the event reader
// is held back) → the overflow is seen and the rescan archives every file
// whose events were lost.
func TestOverflowRescan(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the overflow is inotify's")
	}
	e := newEnv(t)
	cfg := e.config()
	cfg.RescanInterval = -1 // only the overflow may trigger a rescan
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	restore := lowerInotifyQueue(t, 128)
	w.newFSWatcher = func() (*fsnotify.Watcher, error) {
		fw, err := fsnotify.NewWatcher()
		if restore != nil {
			restore()
		}
		return fw, err
	}
	w.pauseEvents = make(chan chan struct{})
	r := startWatcher(t, w)
	r.waitReady(t)

	// Hold the event reader, fill the kernel's queue with attribute
	// changes of two ignored files (alternating, so that the kernel cannot
	// merge them), then write the files whose events get lost.
	resume := make(chan struct{})
	w.pauseEvents <- resume
	a, b := filepath.Join(e.src, ".flood-a"), filepath.Join(e.src, ".flood-b")
	os.WriteFile(a, nil, 0o644)
	os.WriteFile(b, nil, 0o644)
	flood := 40000
	for i := 0; i < flood; i++ {
		p := a
		if i%2 == 1 {
			p = b
		}
		os.Chmod(p, os.FileMode(0o600|(i/2%2)*0o044))
	}
	want := map[string][]string{}
	n := 200
	if testing.Short() {
		n = 60
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("lost/e%03d.json", i)
		if i == 0 {
			os.Mkdir(filepath.Join(e.src, "lost"), 0o755)
		}
		data := eventData(i, 1)
		if err := writeRename(filepath.Join(e.src, filepath.FromSlash(name)), data); err != nil {
			t.Fatal(err)
		}
		want[name] = []string{sha(data)}
	}
	close(resume)
	waitFor(t, 60*time.Second, "the rescan to archive every file", func() bool { return hasAll(t, e.arch, want) })
	st := r.w.Stats()
	r.stop(t)
	if st.Overflows == 0 {
		t.Fatalf("no overflow seen (flooded with %d events)", flood)
	}
	if !strings.Contains(e.logs.String(), `"cause":"overflow"`) {
		t.Errorf("no overflow rescan logged")
	}
	verifyArchive(t, e.arch, want)
}

// TestArchiveDiskFull: the archive's file system fills up (a small tmpfs,
// mounted by the test as root). The daemon reports it, keeps running, and
// catches up once space returns (the tmpfs is enlarged): every file is
// archived exactly once and the archive audits clean.
func TestArchiveDiskFull(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs for the archive needs root on Linux")
	}
	e := newEnv(t)
	mnt := filepath.Join(e.dir, "small")
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	cfg := e.config()
	cfg.Archive = filepath.Join(mnt, "archive")
	cfg.RetryMin, cfg.RetryMax = 50*time.Millisecond, 300*time.Millisecond
	r := e.start(cfg)
	r.waitReady(t)

	want := map[string][]string{}
	write := func(from, to int) { writeEvents(t, e.src, want, from, to) }
	write(0, 400)
	waitFor(t, 60*time.Second, "the archive to fill up", func() bool { return r.w.Stats().Errors[ReasonArchiveFull] > 0 })
	waitFor(t, 30*time.Second, "it to fail a few times", func() bool { return r.w.Stats().Errors[ReasonArchiveFull] >= 3 })
	st := r.w.Stats()
	if st.ArchiveHealthy {
		t.Errorf("the archive is full but reported healthy")
	}
	before := r.w.Stats()
	write(400, 420) // files keep coming while it is full: they wait their turn
	waitFor(t, 30*time.Second, "the new files to be tracked", func() bool {
		st := r.w.Stats()
		return st.Tracked+st.QueueDepth >= before.Tracked+before.QueueDepth+20
	})
	select {
	case err := <-r.done:
		t.Fatalf("the watcher stopped on a full disk: %v", err)
	default:
	}
	sealedWhileFull := r.w.Stats().Sealed
	t.Logf("full after %d files; errors %v", sealedWhileFull, r.w.Stats().Errors)
	if sealedWhileFull >= int64(len(want)) {
		t.Fatalf("the tmpfs never filled up")
	}

	if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	waitFor(t, 60*time.Second, "the watcher to catch up", func() bool { return hasAll(t, cfg.Archive, want) })
	waitFor(t, 10*time.Second, "the archive to be healthy again", func() bool { return r.w.Stats().ArchiveHealthy })
	r.stop(t)
	if !strings.Contains(e.logs.String(), "the archive accepts appends again") {
		t.Errorf("no recovery logged")
	}
	verifyArchive(t, cfg.Archive, want)
}
