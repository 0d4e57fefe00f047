package watch

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/samples"
)

// TestWriterExactlyOnce is the writer test of the issue: while the watcher
// runs, a writer produces JSON files (direct writes in pieces, and
// write-then-rename), in existing and new subdirectories, and WAVs written
// slowly in small pieces over seconds (with placeholder sizes patched at the
// end, or with the final header first). Every file is archived exactly once,
// after it was complete: its sealed original equals the writer's final
// bytes.
func TestWriterExactlyOnce(t *testing.T) {
	e := newEnv(t)
	os.MkdirAll(filepath.Join(e.src, "events"), 0o755)
	r := e.start(e.config())
	r.waitReady(t)

	var mu sync.Mutex
	want := map[string][]string{}
	record := func(name string, data []byte) {
		mu.Lock()
		want[name] = append(want[name], sha(data))
		mu.Unlock()
	}
	nJSON := 60
	if testing.Short() {
		nJSON = 20
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	// JSON writers.
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < nJSON; i++ {
			data := eventData(i, 1)
			var name string
			switch i % 4 {
			case 0: // direct, in pieces, quickly
				name = fmt.Sprintf("events/direct-%03d.json", i)
				errs <- writeDirect(filepath.Join(e.src, filepath.FromSlash(name)), data, 4, time.Duration(rng.IntN(20))*time.Millisecond)
			case 1: // write-then-rename
				name = fmt.Sprintf("events/renamed-%03d.json", i)
				errs <- writeRename(filepath.Join(e.src, filepath.FromSlash(name)), data)
			case 2: // a new subdirectory, files written at once
				d := fmt.Sprintf("day-%03d/a/b", i)
				os.MkdirAll(filepath.Join(e.src, filepath.FromSlash(d)), 0o755)
				name = d + "/event.json"
				errs <- os.WriteFile(filepath.Join(e.src, filepath.FromSlash(name)), data, 0o644)
			case 3: // slowly, with pauses longer than the quiet period
				name = fmt.Sprintf("events/slow-%03d.json", i)
				errs <- writeDirect(filepath.Join(e.src, filepath.FromSlash(name)), data, 3, 250*time.Millisecond)
			}
			record(name, data)
		}
	}()
	// WAV writers: 3-5 s each, a piece every 200-300 ms (longer than the quiet period).
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wav := samples.WAV(8000, 1+float64(i)/2, 300+100*float64(i))
			name := fmt.Sprintf("rec-%d.wav", i)
			errs <- writeWAVSlowly(filepath.Join(e.src, name), wav, 16, time.Duration(200+50*i)*time.Millisecond, i != 1)
			record(name, wav)
		}()
	}
	// Noise the watcher must not archive.
	os.WriteFile(filepath.Join(e.src, "notes.txt"), []byte("not a timeline file"), 0o644)
	os.WriteFile(filepath.Join(e.src, ".hidden.json"), eventData(999, 1), 0o644)
	os.WriteFile(filepath.Join(e.src, "x.json.tmp"), eventData(998, 1), 0o644)
	os.Symlink(filepath.Join(e.dir, "outside.json"), filepath.Join(e.src, "link.json"))
	os.WriteFile(filepath.Join(e.dir, "outside.json"), eventData(997, 1), 0o644)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 60*time.Second, "every file to be archived", func() bool { return hasAll(t, e.arch, want) })
	st := r.settle(t) // nothing more comes: every source file looked at and dealt with
	r.stop(t)
	verifyArchive(t, e.arch, want)
	if st.Sealed != int64(len(want)) || st.Resealed != 0 {
		t.Errorf("stats: sealed %d (want %d), resealed %d", st.Sealed, len(want), st.Resealed)
	}
	if st.Skipped[skipSymlink] == 0 || st.Skipped[skipNotTimeline] == 0 {
		t.Errorf("stats: skipped %v: the symlink and the text file should be counted", st.Skipped)
	}

	// A restart seals nothing again.
	r = e.start(e.config())
	r.waitReady(t)
	st = r.settle(t)
	r.stop(t)
	if st.Sealed != 0 {
		t.Errorf("after a restart: %d files sealed again", st.Sealed)
	}
	verifyArchive(t, e.arch, want)
}

// A file changed after it was sealed is sealed again as a new entry (and
// counted); a restart without the state cache seals nothing twice.
func TestChangedAfterSealedAndLostCache(t *testing.T) {
	e := newEnv(t)
	r := e.start(e.config())
	r.waitReady(t)
	p := filepath.Join(e.src, "a.json")
	v1, v2 := eventData(1, 1), eventData(1, 2)
	want := map[string][]string{"a.json": {sha(v1)}}
	if err := os.WriteFile(p, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "v1", func() bool { return hasAll(t, e.arch, want) })
	if err := os.WriteFile(p, v2, 0o644); err != nil {
		t.Fatal(err)
	}
	want["a.json"] = append(want["a.json"], sha(v2))
	waitFor(t, 10*time.Second, "v2", func() bool { return hasAll(t, e.arch, want) })
	// Touching without changing the content seals nothing.
	now := time.Now()
	os.Chtimes(p, now, now)
	st := r.settle(t)
	r.stop(t)
	if st.Resealed != 1 || !strings.Contains(e.logs.String(), "changed after it was sealed") {
		t.Errorf("resealed %d, want 1 (and a log line)", st.Resealed)
	}
	got := archiveContents(t, e.arch)["a.json"]
	if len(got) != 2 || got[1].ArchiveName != "a.v2.json" {
		t.Errorf("versions: %+v", got)
	}
	verifyArchive(t, e.arch, want)

	// Without the state cache, and with the file untouched: the archive's
	// log says it is archived.
	if err := os.Remove(filepath.Join(e.arch, StateDirName, stateFileName)); err != nil {
		t.Fatal(err)
	}
	r = e.start(e.config())
	r.waitReady(t)
	st = r.settle(t)
	r.stop(t)
	if st.Sealed != 0 || st.Skipped[skipArchived] != 1 {
		t.Errorf("after losing the cache: sealed %d, skipped %v", st.Sealed, st.Skipped)
	}
	verifyArchive(t, e.arch, want)
}

// --in-place replaces the source by its sealed copy, the archive holds the
// same bytes, and the sealed source is not sealed again.
func TestInPlace(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.InPlace = true
	r := e.start(cfg)
	r.waitReady(t)
	wav := samples.WAV(8000, 0.5, 440)
	ev := eventData(3, 1)
	os.WriteFile(filepath.Join(e.src, "r.wav"), wav, 0o640)
	os.WriteFile(filepath.Join(e.src, "e.json"), ev, 0o644)
	want := map[string][]string{"r.wav": {sha(wav)}, "e.json": {sha(ev)}}
	waitFor(t, 10*time.Second, "both archived", func() bool { return hasAll(t, e.arch, want) })
	waitFor(t, 10*time.Second, "the sources sealed in place", func() bool {
		a, _ := os.ReadFile(filepath.Join(e.src, "r.wav"))
		b, _ := os.ReadFile(filepath.Join(e.src, "e.json"))
		return !bytes.Equal(a, wav) && !bytes.Equal(b, ev)
	})
	st := r.settle(t)
	r.stop(t)
	if st.Sealed != 2 {
		t.Errorf("sealed %d, want 2", st.Sealed)
	}
	for _, name := range []string{"r.wav", "e.json"} {
		src, _ := os.ReadFile(filepath.Join(e.src, name))
		arch, _ := os.ReadFile(filepath.Join(e.arch, "files", name))
		if !bytes.Equal(src, arch) {
			t.Errorf("%s: the source is not the archived sealed copy", name)
		}
	}
	if fi, _ := os.Stat(filepath.Join(e.src, "r.wav")); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
	}
	verifyArchive(t, e.arch, want)

	// Restarted without the cache: the sealed sources are recognised.
	os.Remove(filepath.Join(e.arch, StateDirName, stateFileName))
	r = e.start(cfg)
	r.waitReady(t)
	st = r.settle(t)
	r.stop(t)
	if st.Sealed != 0 || st.Skipped[skipInPlace] != 2 || st.Errors[ReasonAlreadySealed] != 0 {
		t.Errorf("after restart: sealed %d, skipped %v, errors %v", st.Sealed, st.Skipped, st.Errors)
	}
}

// A file that never completes is sealed as it is after MaxWait, with a
// warning finding; a file sealed by someone else is reported, not archived.
func TestIncompleteSealedAfterMaxWait(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.MaxWait = time.Second
	r := e.start(cfg)
	r.waitReady(t)
	wav := samples.WAV(8000, 0.3, 440)
	cut := append([]byte(nil), wav[:len(wav)/2]...)
	copy(cut[4:8], []byte{0xFF, 0xFF, 0xFF, 0xFF}) // the recorder died before patching
	os.WriteFile(filepath.Join(e.src, "cut.wav"), cut, 0o644)
	os.WriteFile(filepath.Join(e.src, "foreign.json"), sealBytes(t, eventData(5, 1)), 0o644)
	os.WriteFile(filepath.Join(e.src, "broken.json"), []byte(`{"id": "evt`), 0o644)
	want := map[string][]string{"cut.wav": {sha(cut)}}
	waitFor(t, 10*time.Second, "the incomplete file", func() bool { return hasAll(t, e.arch, want) })
	waitFor(t, 10*time.Second, "the broken JSON to be given up", func() bool {
		return r.w.Stats().Errors[ReasonNotTimeline] > 0
	})
	st := r.w.Stats()
	r.stop(t)
	// The foreign seal is skipped, once, and is no error.
	if st.IncompleteSealed != 1 || st.Skipped[skipSealed] != 1 || st.Errors[ReasonAlreadySealed] != 0 {
		t.Errorf("incomplete sealed %d, skipped %v, errors %v", st.IncompleteSealed, st.Skipped, st.Errors)
	}
	// The warning is in the entry's log record, nowhere else.
	if _, err := os.Stat(filepath.Join(e.arch, StateDirName, "findings.jsonl")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a findings journal: %v", err)
	}
	ar, err := archive.OpenReader(e.arch)
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	en, err := ar.Lookup("cut.wav")
	if err != nil {
		t.Fatal(err)
	}
	if len(en.Notes) != 1 || en.Notes[0].Code != CodeIncomplete || en.Notes[0].Severity != archive.NoteWarning ||
		!strings.Contains(en.Notes[0].Message, "placeholder") || en.Envelope.SHA256 != sha(cut) {
		t.Fatalf("the entry of cut.wav has notes %+v", en.Notes)
	}
	verifyArchive(t, e.arch, want, "cut.wav")
}

// The metrics and health endpoints, and the service manager notifications.
func TestMetricsHealthNotify(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	n := &recordingNotifier{watchdog: 200 * time.Millisecond}
	cfg.Notifier = n
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	r := startWatcher(t, w)
	r.waitReady(t)
	os.WriteFile(filepath.Join(e.src, "a.json"), eventData(1, 1), 0o644)
	waitFor(t, 10*time.Second, "a.json", func() bool { return w.Stats().Sealed == 1 })
	waitFor(t, 5*time.Second, "a watchdog ping", func() bool { return n.has("WATCHDOG=1") })
	body := get(t, srv.URL+"/metrics", 200)
	for _, s := range []string{
		`tlseal_watch_files_sealed_total{kind="json"} 1`,
		`tlseal_watch_errors_total{reason="archive_full"} 0`,
		"tlseal_watch_queue_depth 0",
		"tlseal_watch_seal_latency_seconds_count 1",
		`tlseal_watch_seal_latency_seconds_bucket{le="+Inf"} 1`,
		"# TYPE tlseal_watch_seal_latency_seconds histogram",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("/metrics lacks %q", s)
		}
	}
	get(t, srv.URL+"/healthz", 200)
	get(t, srv.URL+"/readyz", 200)
	r.stop(t)
	if !n.has("READY=1") || !n.has("STOPPING=1") || !n.has("STATUS=") {
		t.Errorf("notifications %v", n.states)
	}
	get(t, srv.URL+"/readyz", 200) // stats stay readable after Run
}

func get(t *testing.T, url string, status int) string {
	t.Helper()
	resp, err := httpGet(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.code != status {
		t.Fatalf("GET %s: %d %s", url, resp.code, resp.body)
	}
	return resp.body
}

// Configuration errors are refused before anything starts.
func TestConfigRefusals(t *testing.T) {
	e := newEnv(t)
	base := e.config()
	cases := map[string]func(c *Config){
		"archive inside source": func(c *Config) { c.Archive = filepath.Join(e.src, "archive") },
		"archive is source":     func(c *Config) { c.Archive = e.src },
		"source inside archive": func(c *Config) {
			os.MkdirAll(filepath.Join(e.arch, "in"), 0o755)
			c.Sources = []Source{{Dir: filepath.Join(e.arch, "in")}}
		},
		"state inside source": func(c *Config) { c.StateDir = filepath.Join(e.src, "st") },
		"nested sources": func(c *Config) {
			os.MkdirAll(filepath.Join(e.src, "sub"), 0o755)
			c.Sources = []Source{{Dir: e.src, Prefix: "a"}, {Dir: filepath.Join(e.src, "sub"), Prefix: "b"}}
		},
		"same prefix": func(c *Config) {
			d := filepath.Join(e.dir, "other")
			os.MkdirAll(d, 0o755)
			c.Sources = []Source{{Dir: e.src}, {Dir: d}}
		},
		"missing source": func(c *Config) { c.Sources = []Source{{Dir: filepath.Join(e.dir, "nope")}} },
		"no signer":      func(c *Config) { c.Signer = nil },
		"bad glob":       func(c *Config) { c.Exclude = []string{"["} },
		"max wait":       func(c *Config) { c.MaxWait = time.Millisecond },
		"archive via symlink into source": func(c *Config) {
			os.Symlink(e.src, filepath.Join(e.dir, "srclink"))
			c.Archive = filepath.Join(e.dir, "srclink", "arch")
		},
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			c := base
			c.Sources = append([]Source(nil), base.Sources...)
			mod(&c)
			_, err := New(c)
			if ReasonOf(err) != ReasonConfig {
				t.Fatalf("New: %v, want a config error", err)
			}
		})
	}
}

// Two watchers cannot write to one archive.
func TestSecondWatcherLocked(t *testing.T) {
	e := newEnv(t)
	r := e.start(e.config())
	r.waitReady(t)
	w2, err := New(e.config())
	if err != nil {
		t.Fatal(err)
	}
	err = w2.Run(t.Context())
	if ReasonOf(err) != ReasonArchive || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second watcher: %v", err)
	}
	r.stop(t)
}

func TestFileConfig(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "tlseal.json")
	os.WriteFile(cfgFile, []byte(`{"certStoreFileName": "x", "watch": {
		"sources": ["rec", {"dir": "/abs/other", "prefix": "b"}],
		"archive": "arch", "quietPeriod": "250ms", "maxWait": "2m", "inPlace": true,
		"exclude": ["*.bak"], "listen": "127.0.0.1:0", "logFormat": "json"}}`), 0o644)
	fc, err := LoadFileConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	c.QuietPeriod = time.Second // a flag wins
	fc.Apply(&c)
	if len(c.Sources) != 2 || c.Sources[0].Dir != filepath.Join(dir, "rec") || c.Sources[1] != (Source{Dir: "/abs/other", Prefix: "b"}) ||
		c.Archive != filepath.Join(dir, "arch") || c.QuietPeriod != time.Second || c.MaxWait != 2*time.Minute ||
		!c.InPlace || c.Exclude[0] != "*.bak" || fc.LogFormat != "json" {
		t.Fatalf("config %+v", c)
	}
	os.WriteFile(cfgFile, []byte(`{"watch": {"sorces": []}}`), 0o644)
	if _, err := LoadFileConfig(cfgFile); ReasonOf(err) != ReasonConfig {
		t.Fatalf("typo accepted: %v", err)
	}
	os.WriteFile(cfgFile, []byte(`{"security": {}}`), 0o644)
	if fc, err := LoadFileConfig(cfgFile); fc != nil || err != nil {
		t.Fatalf("no watch member: %v %v", fc, err)
	}
}

func TestFilter(t *testing.T) {
	f := newFilter(&Config{Exclude: []string{"archive-*", "skip/this/*"}})
	for rel, want := range map[string]bool{
		"a.json": false, "d/a.json": false, ".a.json": true, "a.json.tmp": true, "a.part": true, "a~": true,
		".git/x.json": true, "d/.cache/x.json": true, "archive-1/x.json": true, "skip/this/x.json": true,
		"skip/x.json": false, ".a.json.tmp-123": true,
	} {
		if got := f.excludedFile(rel); got != want {
			t.Errorf("excludedFile(%q) = %v, want %v", rel, got, want)
		}
	}
	f = newFilter(&Config{Include: []string{"*.wav", "events/*.json"}, NoDefaultExcludes: true})
	for rel, want := range map[string]bool{
		"a.wav": false, "d/a.wav": false, "a.json": true, "events/a.json": false, ".a.wav": false, ".x.wav.tmp-1": true,
	} {
		if got := f.excludedFile(rel); got != want {
			t.Errorf("include: excludedFile(%q) = %v, want %v", rel, got, want)
		}
	}
}
