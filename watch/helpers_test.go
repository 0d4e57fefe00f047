package watch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
)

// testEnv is a source directory, an archive directory and a signer.
type testEnv struct {
	t      testing.TB
	dir    string
	src    string
	arch   string
	ca     *testpki.Cert
	leaf   *testpki.Cert
	signer *timeline.Signer
	logs   *logBuffer
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	dir := t.TempDir()
	e := &testEnv{t: t, dir: dir, src: filepath.Join(dir, "src"), arch: filepath.Join(dir, "archive"), logs: &logBuffer{}}
	if err := os.Mkdir(e.src, 0o755); err != nil {
		t.Fatal(err)
	}
	e.ca = testpki.CA(t, testpki.Options{})
	e.leaf = testpki.Leaf(t, e.ca, testpki.Options{})
	e.signer = testpki.Signer(t, e.leaf)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher log (last 200 lines):\n%s", e.logs.tail(200))
		}
	})
	return e
}

// config is a fast configuration for tests.
func (e *testEnv) config() Config {
	return Config{
		Sources: []Source{{Dir: e.src}}, Archive: e.arch, Signer: e.signer,
		QuietPeriod: 100 * time.Millisecond, MaxWait: 5 * time.Second,
		RetryMin: 50 * time.Millisecond, RetryMax: 400 * time.Millisecond,
		CheckpointEvery: 50, CheckpointInterval: 500 * time.Millisecond,
		Logger:   slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Notifier: &recordingNotifier{},
	}
}

// running is a Watcher running in a goroutine.
type running struct {
	w      *Watcher
	cancel context.CancelFunc
	done   chan error
}

func (e *testEnv) start(cfg Config) *running {
	e.t.Helper()
	w, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return startWatcher(e.t, w)
}

func startWatcher(t testing.TB, w *Watcher) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(60 * time.Second):
			t.Errorf("the watcher did not stop")
		}
	})
	return r
}

// stop cancels the watcher and waits for Run to return.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		r.done <- nil // for the cleanup
	case <-time.After(60 * time.Second):
		t.Fatal("the watcher did not stop within 60s")
	}
}

// settle waits until the watcher is provably quiet (Watcher.settle: a full
// scan, a barrier, nothing tracked or in flight) and returns its stats,
// final until something changes: what a test asserts after it is not at
// the mercy of a sleep on a slow machine.
func (r *running) settle(t testing.TB) Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.w.settle(ctx); err != nil {
		t.Fatalf("the watcher did not settle: %v (stats %+v)", err, r.w.Stats())
	}
	return r.w.Stats()
}

// waitReady waits until the catch-up scan is done.
func (r *running) waitReady(t testing.TB) {
	t.Helper()
	waitFor(t, 30*time.Second, "the watcher to be ready", func() bool {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("Run returned before it was ready: %v", err)
		default:
		}
		return r.w.Stats().Ready
	})
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBuffer collects log output safely.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(l.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// recordingNotifier records sd_notify states.
type recordingNotifier struct {
	mu       sync.Mutex
	states   []string
	watchdog time.Duration
}

func (n *recordingNotifier) Notify(s string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.states = append(n.states, s)
	return nil
}

func (n *recordingNotifier) WatchdogInterval() time.Duration { return n.watchdog }

func (n *recordingNotifier) has(prefix string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range n.states {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// sealBytes seals data in memory (for fixtures of already sealed files).
func sealBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	ca := testpki.CA(t, testpki.Options{})
	s := testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{}))
	f, err := os.CreateTemp(t.TempDir(), "sealed")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := timeline.Seal(f, bytes.NewReader(data), int64(len(data)), timeline.SealOptions{Name: "x", Signer: s}); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// archivedVersion is one archive entry as the tests see it.
type archivedVersion struct {
	Seq         int64
	ArchiveName string
	SHA256      string
}

// archiveContents reads the archive's log: source name → versions in order.
func archiveContents(t testing.TB, dir string) map[string][]archivedVersion {
	t.Helper()
	out := map[string][]archivedVersion{}
	if !archive.IsArchive(dir) {
		return out
	}
	r, err := archive.OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for e, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Envelope == nil {
			t.Fatalf("entry %d: %v", e.Seq, e.EnvelopeErr)
		}
		out[e.Name] = append(out[e.Name], archivedVersion{Seq: e.Seq, ArchiveName: e.ArchiveName, SHA256: e.Envelope.SHA256})
	}
	return out
}

// countArchived is the number of entries.
func countArchived(dir string) int64 {
	if !archive.IsArchive(dir) {
		return 0
	}
	r, err := archive.OpenReader(dir)
	if err != nil {
		return 0
	}
	defer r.Close()
	return r.Size()
}

// hasAll reports whether every (name, sha) of want is archived.
func hasAll(t testing.TB, dir string, want map[string][]string) bool {
	got := archiveContents(t, dir)
	for name, shas := range want {
		have := map[string]bool{}
		for _, v := range got[name] {
			have[v.SHA256] = true
		}
		for _, s := range shas {
			if !have[s] {
				return false
			}
		}
	}
	return true
}

// verifyArchive checks the archive as an auditor would: archive.Check finds
// no problem, every sealed file opens and its signature verifies, its
// original bytes are what the writer wrote, and every version the writer
// produced is archived exactly once, nothing else.
//
// Findings about the originals' own structure (riff.*, of a recording sealed
// as it was) are allowed for the names in asIs.
func verifyArchive(t testing.TB, dir string, want map[string][]string, asIs ...string) {
	t.Helper()
	res, err := archive.Check(dir, archive.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		if strings.HasPrefix(p.Code, "riff.") && slices.Contains(asIs, strings.TrimPrefix(p.Name, "files/")) {
			continue
		}
		t.Errorf("archive.Check: %s", p)
	}
	r, err := archive.OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := map[string][]string{}
	for e, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(r.FilePath(e))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		o, err := timeline.Open(f, st.Size())
		if err != nil {
			f.Close()
			t.Fatalf("%s: %v", e.ArchiveName, err)
		}
		if len(o.Problems) > 0 && !slices.Contains(asIs, e.ArchiveName) {
			t.Errorf("%s: %v", e.ArchiveName, o.Problems)
		}
		// Exactly the files sealed as they were carry the warning.
		noted := len(e.Notes) == 1 && e.Notes[0].Code == CodeIncomplete && e.Notes[0].Severity == archive.NoteWarning
		if noted != slices.Contains(asIs, e.ArchiveName) || len(e.Notes) > 1 {
			t.Errorf("%s: notes %+v", e.ArchiveName, e.Notes)
		}
		if _, err := timeline.VerifySignature(o.Envelope); err != nil {
			t.Errorf("%s: signature: %v", e.ArchiveName, err)
		}
		orig, err := o.Original()
		if err != nil {
			f.Close()
			t.Fatalf("%s: %v", e.ArchiveName, err)
		}
		h := sha256.New()
		io.Copy(h, orig)
		f.Close()
		sum := hex.EncodeToString(h.Sum(nil))
		if sum != o.Envelope.SHA256 {
			t.Errorf("%s: original's SHA-256 %s, seal says %s", e.ArchiveName, sum, o.Envelope.SHA256)
		}
		got[e.Name] = append(got[e.Name], sum)
	}
	for name, shas := range want {
		g := append([]string(nil), got[name]...)
		w := append([]string(nil), shas...)
		sort.Strings(g)
		sort.Strings(w)
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s: archived versions %v, want exactly %v", name, short(got[name]), short(shas))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: archived (%d versions) but never written as a complete file", name, len(got[name]))
		}
	}
}

func short(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x[:min(12, len(x))]
	}
	return out
}

// The writers: how recorders produce files.

// writeDirect writes data into path in pieces, pausing between them.
func writeDirect(path string, data []byte, pieces int, pause time.Duration) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	n := max(1, (len(data)+pieces-1)/pieces)
	for off := 0; off < len(data); off += n {
		if _, err := f.Write(data[off:min(off+n, len(data))]); err != nil {
			f.Close()
			return err
		}
		if off+n < len(data) && pause > 0 {
			time.Sleep(pause)
		}
	}
	return f.Close()
}

// writeRename writes data to a temporary name the watcher ignores, then
// renames it into place.
func writeRename(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeWAVSlowly writes a WAV the way a recorder does: a header whose size
// fields are the 0xFFFFFFFF placeholder (placeholder) or already the final
// ones, then the samples in small pieces with pauses longer than the quiet
// period, then (placeholder) the real sizes patched in.
func writeWAVSlowly(path string, wav []byte, pieces int, pause time.Duration, placeholder bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := append([]byte(nil), wav[:44]...)
	if placeholder {
		binary.LittleEndian.PutUint32(hdr[4:], 0xFFFFFFFF)
		binary.LittleEndian.PutUint32(hdr[40:], 0xFFFFFFFF)
	}
	if _, err := f.Write(hdr); err != nil {
		return err
	}
	body := wav[44:]
	n := max(1, (len(body)+pieces-1)/pieces)
	for off := 0; off < len(body); off += n {
		time.Sleep(pause)
		if _, err := f.Write(body[off:min(off+n, len(body))]); err != nil {
			return err
		}
	}
	if placeholder {
		if _, err := f.WriteAt(wav[4:8], 4); err != nil {
			return err
		}
		if _, err := f.WriteAt(wav[40:44], 40); err != nil {
			return err
		}
	}
	return f.Close()
}

// eventData is the content of version v of event file i.
// writeEvents writes events from..to-1 as eNNNN.json in dir (write, then
// rename) and records their digests in want.
func writeEvents(t testing.TB, dir string, want map[string][]string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		name := fmt.Sprintf("e%04d.json", i)
		data := eventData(i, 1)
		if err := writeRename(filepath.Join(dir, name), data); err != nil {
			t.Fatal(err)
		}
		want[name] = []string{sha(data)}
	}
}

func eventData(i, v int) []byte {
	d := samples.EventJSON(i, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Second), "rec.wav")
	if v > 1 {
		d = bytes.Replace(d, []byte(`"type": 1`), []byte(fmt.Sprintf(`"type": %d`, v)), 1)
	}
	return d
}

type httpResp struct {
	code int
	body string
}

func httpGet(url string) (httpResp, error) {
	resp, err := http.Get(url)
	if err != nil {
		return httpResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return httpResp{code: resp.StatusCode, body: string(b)}, err
}
