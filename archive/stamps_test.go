package archive

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/testtsa"
	"github.com/tlseal/tlseal/tsa"
)

func clientStamper(url string) Timestamper {
	c := &tsa.Client{URL: url, Timeout: 5 * time.Second, Backoff: 10 * time.Millisecond}
	return func(ctx context.Context, digest []byte) ([]byte, error) {
		tok, err := c.Stamp(ctx, digest)
		if err != nil {
			return nil, err
		}
		return tok.Raw, nil
	}
}

// stampedArchive builds an archive of n JSON entries with a checkpoint,
// and its token, after every `every` entries, waiting for each token so
// that every checkpoint is stamped (the writer would otherwise stamp only
// the newest of those that pile up).
func stampedArchive(t *testing.T, env *testEnv, a *testtsa.TSA, n, every int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "archive")
	done := make(chan error, 100)
	opts := env.opts(nil)
	opts.CheckpointEvery = -1
	opts.Timestamper = clientStamper(a.URL)
	opts.OnTimestamp = func(size int64, err error) { done <- err }
	w, err := Create(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if _, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i)); err != nil {
			t.Fatal(err)
		}
		if i%every == 0 || i == n {
			if _, err := w.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil { // the same size: no new request
		t.Fatal(err)
	}
	return dir
}

func TestCheckpointStamps(t *testing.T) {
	env := newEnv(t)
	a := testtsa.Start(t, testtsa.Options{})
	dir := stampedArchive(t, env, a, 7, 3)
	res := mustCheck(t, dir, CheckOptions{TSARoots: a.CAPool()})
	var sizes []int64
	for _, s := range res.Stamps {
		sizes = append(sizes, s.Size)
	}
	if len(sizes) != 3 || sizes[0] != 3 || sizes[1] != 6 || sizes[2] != 7 {
		t.Fatalf("stamps at sizes %v, want [3 6 7]", sizes)
	}
	if a.Requests() != 3 {
		t.Errorf("%d TSA requests for 3 checkpoints", a.Requests())
	}
	// Every entry gets the earliest stamp that covers it.
	var got []int64
	res2, err := checkEntries(dir, CheckOptions{TSARoots: a.CAPool()})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res2 {
		if e.ExistedBy == nil {
			got = append(got, 0)
		} else {
			got = append(got, e.ExistedBy.Size)
		}
	}
	want := []int64{3, 3, 3, 6, 6, 6, 7}
	if len(got) != len(want) {
		t.Fatalf("existed-by sizes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("existed-by sizes %v, want %v", got, want)
		}
	}
	// Without TSA anchors the tokens give no time.
	res = expect(t, dir, CheckOptions{}, CodeTimestampUntrusted)
	if len(res.Stamps) != 0 {
		t.Error("an untrusted token gave a stamp")
	}
	// Another TSA's anchors do not do either.
	other := testtsa.Start(t, testtsa.Options{RSA: true})
	expect(t, dir, CheckOptions{TSARoots: other.CAPool()}, CodeTimestampUntrusted)
}

// checkEntries runs Check and returns the entries its file checks saw.
func checkEntries(dir string, opts CheckOptions) ([]*Entry, error) {
	var out []*Entry
	opts.Select = func(e *Entry) bool {
		out = append(out, e)
		return false
	}
	_, err := Check(dir, opts)
	return out, err
}

func TestCheckpointStampTamper(t *testing.T) {
	env := newEnv(t)
	a := testtsa.Start(t, testtsa.Options{})
	base := stampedArchive(t, env, a, 6, 3)
	other := stampedArchive(t, env, a, 3, 3) // same key, another archive
	roots := CheckOptions{TSARoots: a.CAPool()}
	copyArchive := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "a")
		if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	p := func(dir, name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	read := func(t *testing.T, path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	put := func(t *testing.T, path string, b []byte) {
		os.Chmod(path, 0o644)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		code   string
		keep   int // stamps that still hold
	}{
		{"tokens swapped between checkpoints", func(t *testing.T, dir string) {
			t3, t6 := read(t, p(dir, stampTokenName(3))), read(t, p(dir, stampTokenName(6)))
			put(t, p(dir, stampTokenName(3)), t6)
			put(t, p(dir, stampTokenName(6)), t3)
		}, CodeTimestampImprintMismatch, 0},
		{"token edited by one byte", func(t *testing.T, dir string) {
			b := read(t, p(dir, stampTokenName(6)))
			b[len(b)-10] ^= 1
			put(t, p(dir, stampTokenName(6)), b)
		}, CodeTimestampInvalid, 1},
		{"token not DER", func(t *testing.T, dir string) {
			put(t, p(dir, stampTokenName(3)), []byte("not a token"))
		}, CodeTimestampInvalid, 1},
		{"token without its note", func(t *testing.T, dir string) {
			os.Remove(p(dir, stampNoteName(3)))
		}, CodeTimestampInvalid, 1},
		{"note edited", func(t *testing.T, dir string) {
			b := read(t, p(dir, stampNoteName(3)))
			b[len(b)-5] ^= 1
			put(t, p(dir, stampNoteName(3)), b)
		}, CodeCheckpointInvalid, 1},
		{"note renamed to another size", func(t *testing.T, dir string) {
			os.Rename(p(dir, stampNoteName(3)), p(dir, stampNoteName(4)))
			os.Rename(p(dir, stampTokenName(3)), p(dir, stampTokenName(4)))
		}, CodeCheckpointInvalid, 1},
		{"note and token of another archive with the same key", func(t *testing.T, dir string) {
			put(t, p(dir, stampNoteName(3)), read(t, p(other, stampNoteName(3))))
			put(t, p(dir, stampTokenName(3)), read(t, p(other, stampTokenName(3))))
		}, CodeCheckpointInvalid, 1},
		{"a stray file", func(t *testing.T, dir string) {
			put(t, p(dir, stampsDir+"/03.note"), []byte("x"))
		}, CodeCheckpointInvalid, 2},
		{"note without token", func(t *testing.T, dir string) {
			os.Remove(p(dir, stampTokenName(6)))
		}, CodeTimestampMissing, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyArchive(t)
			tc.tamper(t, dir)
			res := expect(t, dir, roots, tc.code)
			// Only the intact stamp may still give a time: the
			// tampered one never does.
			if len(res.Stamps) != tc.keep {
				t.Errorf("%d stamps still used, want %d", len(res.Stamps), tc.keep)
			}
		})
	}
	// The log rewritten under a kept checkpoint: its root no longer matches.
	t.Run("log rewritten below a kept checkpoint", func(t *testing.T) {
		dir := copyArchive(t)
		data, offs := entryRecords(t, dir)
		// Drop the last entry and its derived hashes: the kept
		// checkpoint of 6 entries now names a tree the log does not hold.
		writable(t, p(dir, entriesFile))
		put(t, p(dir, entriesFile), data[:offs[5]])
		rebuildDerived(t, dir)
		expect(t, dir, roots, CodeCheckpointInvalid)
	})
}

// A checkpoint left without its token is completed by Timestamp, on disk
// and on object storage (where the notes and tokens must carry the
// archive's retention: mustCheck fails on storage.retentionMissing).
func TestTimestampLater(t *testing.T) {
	t.Run("disk", func(t *testing.T) {
		env := newEnv(t)
		testTimestampLater(t, env, filepath.Join(t.TempDir(), "archive"), env.opts(nil))
	})
	t.Run("s3", func(t *testing.T) {
		_, loc := newS3Location(t)
		env := newEnv(t)
		testTimestampLater(t, env, loc, s3Opts(env))
	})
}

func testTimestampLater(t *testing.T, env *testEnv, dir string, opts Options) {
	a := testtsa.Start(t, testtsa.Options{})
	dead := testtsa.Start(t, testtsa.Options{FailFirst: 1 << 30})
	failed := make(chan error, 10)
	opts.Timestamper = clientStamper(dead.URL)
	opts.OnTimestamp = func(size int64, err error) { failed <- err }
	opts.TimestampWait = 10 * time.Second
	w, err := Create(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		if _, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-failed; err == nil {
		t.Fatal("a TSA answering 503 gave a token")
	}
	t.Logf("Close with a failing TSA took %v", time.Since(start))
	expect(t, dir, CheckOptions{TSARoots: a.CAPool()}, CodeTimestampMissing)

	// tlseal timestamp completes the checkpoint later.
	out, err := Timestamp(context.Background(), dir, clientStamper(a.URL))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Size != 4 || out[0].Err != nil {
		t.Fatalf("Timestamp: %+v", out)
	}
	res := mustCheck(t, dir, CheckOptions{TSARoots: a.CAPool()})
	if len(res.Stamps) != 1 || res.Stamps[0].Size != 4 {
		t.Fatalf("stamps after Timestamp: %+v", res.Stamps)
	}
	// Nothing left to do, and a token is never replaced.
	before := a.Requests()
	if out, err := Timestamp(context.Background(), dir, clientStamper(a.URL)); err != nil || len(out) != 0 {
		t.Fatalf("second Timestamp: %+v, %v", out, err)
	}
	if a.Requests() != before {
		t.Error("a stamped checkpoint was stamped again")
	}
	// A writer holding the archive makes Timestamp wait for no one.
	w, err = OpenWriter(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := Timestamp(context.Background(), dir, clientStamper(a.URL)); ReasonOf(err) != ReasonLocked {
		t.Errorf("Timestamp beside a writer: %v", err)
	}
}

// A slow TSA never holds up appends: the stamper works in the background.
func TestSlowTSADoesNotStall(t *testing.T) {
	env := newEnv(t)
	slow := testtsa.Start(t, testtsa.Options{Delay: 2 * time.Second})
	dir := filepath.Join(t.TempDir(), "archive")
	opts := env.opts(nil)
	opts.CheckpointEvery = 2
	opts.Timestamper = clientStamper(slow.URL)
	w, err := Create(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 1; i <= 10; i++ {
		if _, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i)); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("10 appends with 5 checkpoints took %v beside a TSA that answers in 2 s", d)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The pile-up was coalesced: fewer requests than checkpoints, and the
	// final checkpoint is stamped.
	res := mustCheck(t, dir, CheckOptions{TSARoots: slow.CAPool()}, CodeTimestampMissing)
	if n := slow.Requests(); n >= 5 {
		t.Errorf("%d requests for 5 checkpoints written while one request was under way", n)
	}
	if len(res.Stamps) == 0 || res.Stamps[len(res.Stamps)-1].Size != 10 {
		t.Errorf("the final checkpoint is not stamped: %+v", res.Stamps)
	}
}

func sealStamper(url string) func(sig []byte) ([]byte, error) {
	ts := clientStamper(url)
	return func(sig []byte) ([]byte, error) {
		sum := sha256.Sum256(sig)
		return ts(context.Background(), sum[:])
	}
}

// Per-seal tokens in the archive: inside the leaf; a failing TSA fails the
// file, or (best effort, the watcher) seals it without a token and says so.
func TestSealTimestamps(t *testing.T) {
	env := newEnv(t)
	good := testtsa.Start(t, testtsa.Options{})
	dead := testtsa.Start(t, testtsa.Options{FailFirst: 1 << 30})
	ingest := func(t *testing.T, opts Options, n int) (string, []*Entry, []error) {
		dir := filepath.Join(t.TempDir(), "archive")
		w, err := Create(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		var es []*Entry
		var errs []error
		for i := 1; i <= n; i++ {
			e, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i))
			es, errs = append(es, e), append(errs, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return dir, es, errs
	}
	t.Run("tokens", func(t *testing.T) {
		opts := env.opts(nil)
		opts.SealTimestamp = sealStamper(good.URL)
		dir, es, errs := ingest(t, opts, 2)
		for i, e := range es {
			if errs[i] != nil || e.Envelope.TST == "" || e.Envelope.V != 2 || len(e.Notes) != 0 {
				t.Fatalf("entry %d: %v, %+v", i+1, errs[i], e)
			}
		}
		mustCheck(t, dir, CheckOptions{})
	})
	t.Run("strict: a dead TSA fails the file", func(t *testing.T) {
		opts := env.opts(nil)
		opts.SealTimestamp = sealStamper(dead.URL)
		dir, _, errs := ingest(t, opts, 1)
		if errs[0] == nil || ReasonOf(errs[0]) != ReasonSeal {
			t.Fatalf("ingest beside a dead TSA: %v", errs[0])
		}
		if res := mustCheck(t, dir, CheckOptions{}, CodeCheckpointMissing); res.Size != 0 {
			t.Errorf("%d entries appended", res.Size)
		}
	})
	t.Run("best effort: sealed without a token, noted", func(t *testing.T) {
		opts := env.opts(nil)
		opts.SealTimestamp = sealStamper(dead.URL)
		opts.SealTimestampBestEffort = true
		before := dead.Requests()
		start := time.Now()
		dir, es, errs := ingest(t, opts, 5)
		for i, e := range es {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if e.Envelope.TST != "" || e.Envelope.V != 1 || len(e.Notes) != 1 || e.Notes[0].Code != CodeTimestampMissing || e.Notes[0].Severity != NoteWarning {
				t.Fatalf("entry %d: %+v", i+1, e)
			}
		}
		// The TSA is asked once, not once per file.
		if n := dead.Requests() - before; n > 3 { // one request and its retries
			t.Errorf("%d requests to a dead TSA for 5 files", n)
		}
		t.Logf("5 files beside a dead TSA: %v", time.Since(start))
		mustCheck(t, dir, CheckOptions{})
		r, err := OpenReader(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		e, err := r.Lookup(eventName(3))
		if err != nil || len(e.Notes) != 1 || e.Notes[0].Code != CodeTimestampMissing {
			t.Fatalf("logged entry: %+v, %v", e, err)
		}
	})
}

// FuzzStampName: parseStampName never panics, and accepts exactly the
// names stampNoteName and stampTokenName write (one form per size).
func FuzzStampName(f *testing.F) {
	for _, s := range []string{"0.note", "1000.tst", "01.note", "1.note.tmp", "-1.tst", "18446744073709551616.note", "9223372036854775807.tst", ".note", "1."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		size, ext, ok := parseStampName(name)
		if !ok {
			return
		}
		var again string
		if ext == "note" {
			again = stampNoteName(size)
		} else {
			again = stampTokenName(size)
		}
		if again != stampsDir+"/"+name {
			t.Fatalf("%q parses as %d %s, which is written %q", name, size, ext, again)
		}
	})
}

// An archive of no entries has nothing to timestamp: its checkpoint
// vouches for no entry, so no TSA request is made.
func TestTimestampEmptyArchive(t *testing.T) {
	env := newEnv(t)
	a := testtsa.Start(t, testtsa.Options{})
	dir := filepath.Join(t.TempDir(), "archive")
	w, err := Create(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := Timestamp(context.Background(), dir, clientStamper(a.URL))
	if err != nil || len(out) != 0 || a.Requests() != 0 {
		t.Fatalf("Timestamp of an empty archive: %+v, %v, %d requests", out, err, a.Requests())
	}
}
