package watch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/timeline"
)

// Renamed directories are followed: the watches move with them, new files
// written into them are archived, and the files they held are archived under
// their new names (a source name is a path).
func TestRenamedDirectoryFollowed(t *testing.T) {
	e := newEnv(t)
	r := e.start(e.config())
	r.waitReady(t)
	os.MkdirAll(filepath.Join(e.src, "a", "deep"), 0o755)
	d1, d2, d3 := eventData(1, 1), eventData(2, 1), eventData(3, 1)
	os.WriteFile(filepath.Join(e.src, "a", "deep", "x.json"), d1, 0o644)
	want := map[string][]string{"a/deep/x.json": {sha(d1)}}
	waitFor(t, 10*time.Second, "a/deep/x.json", func() bool { return hasAll(t, e.arch, want) })
	if err := os.Rename(filepath.Join(e.src, "a"), filepath.Join(e.src, "b")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the renamed directory to be watched", func() bool {
		r.w.dmu.Lock()
		defer r.w.dmu.Unlock()
		return r.w.dirs[filepath.Join(e.src, "b", "deep")]
	})
	os.WriteFile(filepath.Join(e.src, "b", "deep", "y.json"), d2, 0o644)
	os.WriteFile(filepath.Join(e.src, "b", "z.json"), d3, 0o644)
	want["b/deep/x.json"] = []string{sha(d1)}
	want["b/deep/y.json"] = []string{sha(d2)}
	want["b/z.json"] = []string{sha(d3)}
	waitFor(t, 10*time.Second, "the files of the renamed directory", func() bool { return hasAll(t, e.arch, want) })
	r.settle(t)
	r.w.dmu.Lock()
	for d := range r.w.dirs {
		if filepath.Base(filepath.Dir(d)) == "a" || filepath.Base(d) == "a" {
			t.Errorf("a watch is left on the old path %s", d)
		}
	}
	r.w.dmu.Unlock()
	r.stop(t)
	verifyArchive(t, e.arch, want)
}

// A file removed before it was sealed is dropped silently; one that
// vanishes is not an error that stops anything.
func TestVanishedFiles(t *testing.T) {
	e := newEnv(t)
	r := e.start(e.config())
	r.waitReady(t)
	p := filepath.Join(e.src, "short-lived.json")
	os.WriteFile(p, eventData(1, 1), 0o644)
	time.Sleep(30 * time.Millisecond)
	os.Remove(p)
	d := eventData(2, 1)
	os.WriteFile(filepath.Join(e.src, "kept.json"), d, 0o644)
	want := map[string][]string{"kept.json": {sha(d)}}
	waitFor(t, 10*time.Second, "kept.json", func() bool { return hasAll(t, e.arch, want) })
	st := r.settle(t)
	r.stop(t)
	if st.Sealed != 1 || st.Tracked != 0 {
		t.Errorf("sealed %d, still tracked %d", st.Sealed, st.Tracked)
	}
	verifyArchive(t, e.arch, want)
}

// A crash during the archive's creation leaves a directory beside it; the
// next start removes it and creates the archive.
func TestInterruptedArchiveCreation(t *testing.T) {
	e := newEnv(t)
	left := filepath.Join(e.dir, ".archive.tlseal-new-12345")
	os.MkdirAll(filepath.Join(left, "log"), 0o755)
	os.WriteFile(filepath.Join(left, "lock"), nil, 0o644)
	os.Mkdir(e.arch, 0o755) // an empty directory made by the operator
	r := e.start(e.config())
	r.waitReady(t)
	r.stop(t)
	if _, err := os.Stat(left); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the leftover of an interrupted creation is still there: %v", err)
	}
	if !archive.IsArchive(e.arch) {
		t.Fatal("no archive created")
	}
	verifyArchive(t, e.arch, nil)

	// A directory holding something else is refused.
	other := filepath.Join(e.dir, "other")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "x"), nil, 0o644)
	cfg := e.config()
	cfg.Archive = other
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(t.Context()); ReasonOf(err) != ReasonArchive {
		t.Fatalf("Run on a non-empty non-archive directory: %v", err)
	}
}

func TestClassifyIngest(t *testing.T) {
	src := "/proc/self/fd/9"
	aerr := func(r archive.Reason, path string, err error) error {
		return &archive.Error{Reason: r, Path: path, Err: err}
	}
	terr := func(r timeline.Reason, err error) error { return &timeline.Error{Reason: r, Err: err} }
	cases := []struct {
		err  error
		want Reason
	}{
		{aerr(archive.ReasonIO, "/arch/log/entries", syscall.ENOSPC), ReasonArchiveFull},
		{aerr(archive.ReasonSeal, src, terr(timeline.ReasonIO, &os.PathError{Op: "write", Path: "/arch/tmp/seal-1", Err: syscall.ENOSPC})), ReasonArchiveFull},
		{aerr(archive.ReasonIO, "/arch/log/entries", syscall.EIO), ReasonArchiveIO},
		{aerr(archive.ReasonIO, src, &os.PathError{Op: "open", Path: src, Err: syscall.ENOENT}), ReasonVanished},
		{aerr(archive.ReasonIO, src, &os.PathError{Op: "open", Path: src, Err: syscall.EACCES}), ReasonPermission},
		{aerr(archive.ReasonSeal, src, terr(timeline.ReasonNotJSON, nil)), ReasonNotTimeline},
		{aerr(archive.ReasonSeal, src, terr(timeline.ReasonAlreadySealed, nil)), ReasonAlreadySealed},
		{aerr(archive.ReasonSeal, src, terr(timeline.ReasonTooLarge, nil)), ReasonTooLarge},
		{aerr(archive.ReasonSeal, src, terr(timeline.ReasonIO, nil)), ReasonChanged},
		{aerr(archive.ReasonSeal, src, nil), ReasonChanged},
		{aerr(archive.ReasonSeal, src, terr(timeline.ReasonIO, syscall.EIO)), ReasonUnreadable},
		{aerr(archive.ReasonClosed, "/arch", errors.New("earlier failure")), ReasonArchiveFailed},
		{aerr(archive.ReasonCorrupt, "/arch", nil), ReasonArchive},
		{aerr(archive.ReasonInvalidName, "a\x01b", nil), ReasonInvalidName},
	}
	for i, c := range cases {
		if got := classifyIngest(c.err, src); got != c.want {
			t.Errorf("%d: classifyIngest(%v) = %s, want %s", i, c.err, got, c.want)
		}
	}
	for _, r := range []Reason{ReasonArchiveFull, ReasonPermission, ReasonArchiveFailed} {
		if !r.retryable() {
			t.Errorf("%s not retryable", r)
		}
	}
	e := newError(ReasonVanished, "open", "/s/a.json", fs.ErrNotExist)
	if !errors.Is(e, &Error{Reason: ReasonVanished}) || !errors.Is(e, fs.ErrNotExist) || e.Error() != "watch: open /s/a.json: vanished: file does not exist" {
		t.Errorf("Error: %v", e)
	}
}

// Run leaves no goroutine behind (the event reader, scanner, saver, workers,
// metrics server and fsnotify's reader all end).
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newEnv(t)
	cfg := e.config()
	cfg.Listen = "127.0.0.1:0"
	for i := 0; i < 3; i++ {
		r := e.start(cfg)
		r.waitReady(t)
		os.WriteFile(filepath.Join(e.src, "a.json"), eventData(i, i+1), 0o644)
		waitFor(t, 10*time.Second, "a seal", func() bool { return r.w.Stats().Sealed == 1 })
		r.stop(t)
	}
	waitFor(t, 5*time.Second, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// A crash between the append and the in-place replacement: the archive holds
// the file, the source is still the original. The next start completes the
// replacement and appends nothing.
func TestInPlaceCompletedAfterCrash(t *testing.T) {
	e := newEnv(t)
	data := eventData(7, 1)
	p := filepath.Join(e.src, "e.json")
	os.WriteFile(p, data, 0o644)
	aw, err := archive.Create(e.arch, archive.Options{Signer: e.signer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := aw.Ingest(p, "e.json"); err != nil {
		t.Fatal(err)
	}
	aw.Close()
	cfg := e.config()
	cfg.InPlace = true
	r := e.start(cfg)
	r.waitReady(t)
	waitFor(t, 10*time.Second, "the source to be replaced", func() bool {
		b, _ := os.ReadFile(p)
		a, _ := os.ReadFile(filepath.Join(e.arch, "files", "e.json"))
		return bytes.Equal(a, b)
	})
	st := r.w.Stats()
	r.stop(t)
	if st.Sealed != 0 || countArchived(e.arch) != 1 {
		t.Errorf("sealed %d, entries %d", st.Sealed, countArchived(e.arch))
	}
	verifyArchive(t, e.arch, map[string][]string{"e.json": {sha(data)}})
}

// Several sources: names are prefixed, the archive holds both.
func TestSeveralSources(t *testing.T) {
	e := newEnv(t)
	other := filepath.Join(e.dir, "other")
	os.Mkdir(other, 0o755)
	cfg := e.config()
	cfg.Sources = []Source{{Dir: e.src, Prefix: "a"}, {Dir: other, Prefix: "b/unit"}}
	r := e.start(cfg)
	r.waitReady(t)
	d1, d2 := eventData(1, 1), eventData(2, 1)
	os.WriteFile(filepath.Join(e.src, "x.json"), d1, 0o644)
	os.WriteFile(filepath.Join(other, "x.json"), d2, 0o644)
	want := map[string][]string{"a/x.json": {sha(d1)}, "b/unit/x.json": {sha(d2)}}
	waitFor(t, 10*time.Second, "both", func() bool { return hasAll(t, e.arch, want) })
	r.stop(t)
	verifyArchive(t, e.arch, want)
}

// A writer that failed (here: closed under the watcher's feet) is reopened,
// the log reread, and the append retried.
func TestWriterReopened(t *testing.T) {
	e := newEnv(t)
	r := e.start(e.config())
	r.waitReady(t)
	d1, d2 := eventData(1, 1), eventData(2, 1)
	os.WriteFile(filepath.Join(e.src, "1.json"), d1, 0o644)
	want := map[string][]string{"1.json": {sha(d1)}}
	waitFor(t, 10*time.Second, "1.json", func() bool { return hasAll(t, e.arch, want) })
	r.w.amu.Lock()
	r.w.aw.Close()
	r.w.amu.Unlock()
	os.WriteFile(filepath.Join(e.src, "2.json"), d2, 0o644)
	want["2.json"] = []string{sha(d2)}
	waitFor(t, 10*time.Second, "2.json", func() bool { return hasAll(t, e.arch, want) })
	st := r.w.Stats()
	r.stop(t)
	if st.Errors[ReasonArchiveFailed] != 1 || !strings.Contains(e.logs.String(), "reopened the archive") {
		t.Errorf("errors %v", st.Errors)
	}
	verifyArchive(t, e.arch, want)
}

// The sealed copy that would replace a source in place is read back first:
// one holding other content than its seal names (damaged in the archive,
// in transit or by the file system), or an intact sealed copy of another
// file, is refused, so the source is kept.
func TestCheckSealedCopy(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	wav := make([]byte, 6<<20) // large: verified through the mapped path
	copy(wav, "RIFF\x00\x00\x00\x00WAVE")
	for i := 12; i < len(wav); i++ {
		wav[i] = byte(i * 7)
	}
	for name, orig := range map[string][]byte{"e.json": eventData(1, 1), "r.wav": wav} {
		in, out := filepath.Join(dir, name), filepath.Join(dir, "sealed-"+name)
		if err := os.WriteFile(in, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := timeline.SealFile(in, out, false, timeline.SealOptions{Name: name, Signer: e.signer})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(res.EnvelopeBytes)
		env := hex.EncodeToString(sum[:])
		check := func(env string) error {
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			return checkSealedCopy(f, st.Size(), env)
		}
		if err := check(env); err != nil {
			t.Fatalf("%s: an intact sealed copy is refused: %v", name, err)
		}
		if err := check(strings.Repeat("0", 64)); !errors.Is(err, errBadSealedCopy) {
			t.Errorf("%s: an intact sealed copy of another entry: %v, want errBadSealedCopy", name, err)
		}
		data, _ := os.ReadFile(out)
		at := len(data) / 3 // inside the content, before the seal
		if strings.HasSuffix(name, ".json") {
			at = bytes.IndexByte(data, ':') + 2
		}
		data[at] ^= 0x01
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := check(env); !errors.Is(err, errBadSealedCopy) {
			t.Errorf("%s: a damaged sealed copy: %v, want errBadSealedCopy", name, err)
		}
	}
}
