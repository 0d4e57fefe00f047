package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/timeline"
)

func s3Opts(env *testEnv) Options {
	o := env.opts(nil)
	o.Retention = mustRetention("1d", "governance")
	return o
}

// Create, ingest, reopen, ingest: the S3 archive checks clean, every
// object is retained, and it exports to the archive a disk writer would
// have made (the same entries, chain and proofs).
func TestS3Writer(t *testing.T) {
	srv, loc := newS3Location(t)
	env := newEnv(t)
	w, err := Create(loc, s3Opts(env))
	if err != nil {
		t.Fatal(err)
	}
	if !IsArchive(loc) {
		t.Fatal("not an archive after Create")
	}
	for i := 1; i <= 5; i++ {
		if _, err := w.IngestWithNotes(env.writeJSON(eventName(i), i), eventName(i), noteIf(i == 2)); err != nil {
			t.Fatal(err)
		}
	}
	// A second writer is refused while the first holds the lease.
	if _, err := OpenWriter(loc, env.opts(nil)); ReasonOf(err) != ReasonLocked {
		t.Fatalf("a second writer: %v", err)
	}
	if _, err := w.Ingest(env.write("rec.wav", samples.WAV(8000, 0.25, 440)), "rec.wav"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, loc, CheckOptions{})
	w, err = OpenWriter(loc, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	e, err := w.Ingest(env.writeJSON(eventName(1), 9), eventName(1))
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 7 || e.PrevVersion != 1 || e.ArchiveName != "events/e00001.v2.json" {
		t.Errorf("entry %d %q prev %d", e.Seq, e.ArchiveName, e.PrevVersion)
	}
	w.Close()
	res := mustCheck(t, loc, CheckOptions{})
	if res.Size != 7 || res.Checkpoint.Size != 7 {
		t.Fatalf("size %d, checkpoint %d", res.Size, res.Checkpoint.Size)
	}
	// Every object but the lease is locked.
	ls, _ := parseS3Location(loc)
	ctx := context.Background()
	for info := range srv.Client.ListObjects(ctx, ls.Bucket, minio.ListObjectsOptions{Prefix: ls.Prefix + "/", Recursive: true}) {
		if strings.HasSuffix(info.Key, "/"+lockFile) {
			continue
		}
		mode, until, err := srv.Client.GetObjectRetention(ctx, ls.Bucket, info.Key, "")
		if err != nil || mode == nil || *mode != minio.Governance || until == nil || until.Before(time.Now().Add(23*time.Hour)) {
			t.Errorf("%s: retention %v until %v (%v)", info.Key, mode, until, err)
		}
	}
	// The export is a disk archive a disk writer can continue.
	out := t.TempDir() + "/exported"
	if _, err := Export(loc, out); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, out, CheckOptions{})
	r, _ := OpenReader(out)
	en, err := r.Entry(1)
	r.Close()
	if err != nil || len(en.Notes) != 1 {
		t.Errorf("entry 2's notes after export: %v %v", en, err)
	}
	// Creating again is refused; so is a bucket without Object Lock and
	// an S3 archive without a policy.
	if _, err := Create(loc, s3Opts(env)); ReasonOf(err) != ReasonExists {
		t.Errorf("Create over an archive: %v", err)
	}
	plain := "s3://" + srv.Bucket(t, false) + "/x"
	if _, err := Create(plain, s3Opts(env)); ReasonOf(err) != ReasonInvalidArgument || !strings.Contains(err.Error(), "Object Lock") {
		t.Errorf("Create in a bucket without Object Lock: %v", err)
	}
	if _, err := Create("s3://"+ls.Bucket+"/y", env.opts(nil)); ReasonOf(err) != ReasonInvalidArgument {
		t.Errorf("Create without retention: %v", err)
	}
	if _, _, err := OpenOrCreate("s3://"+ls.Bucket+"/z", env.opts(nil)); ReasonOf(err) != ReasonNotArchive {
		t.Errorf("OpenOrCreate of nothing without retention: %v", err)
	}
	// Another key is refused (rotation is not written to S3).
	other := newEnv(t)
	if _, err := OpenWriter(loc, other.opts(nil)); ReasonOf(err) != ReasonKeyNotAccepted {
		t.Errorf("another key: %v", err)
	}
}

func noteIf(b bool) []Note {
	if !b {
		return nil
	}
	return []Note{{Code: "watch.incomplete", Message: "test", Severity: "warning"}}
}

// crashAt makes the writer stop dead at a hook point (a panic the test
// recovers), leaving its lease to expire as a killed process would (its
// renewal stops with it).
func crashAt(t *testing.T, point string, w *Writer, f func()) (crashed bool) {
	t.Helper()
	testHook = func(p string) bool {
		if p == point {
			panic("crash at " + p)
		}
		return false
	}
	defer func() {
		testHook = nil
		if r := recover(); r != nil {
			crashed = true
			w.s3.halt()
		}
	}()
	f()
	return false
}

// A writer that dies at each step of an append: the next writer (once the
// lease expired) recovers, nothing is lost or duplicated, and the audit is
// clean.
func TestS3WriterCrashRecovery(t *testing.T) {
	old := s3LeaseTTL
	s3LeaseTTL = 1500 * time.Millisecond
	defer func() { s3LeaseTTL = old }()
	_, loc := newS3Location(t)
	env := newEnv(t)
	w, err := Create(loc, s3Opts(env))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	want := 0
	for i, point := range []string{"pending.synced", "sealed.synced", "file.synced", "entries.synced", "hashes.written", "index.written", "checkpoint.write"} {
		w, err := OpenWriter(loc, env.opts(nil))
		if err != nil {
			t.Fatalf("%s: reopening: %v", point, err)
		}
		name := fmt.Sprintf("crash/%d.json", i)
		if !crashAt(t, point, w, func() { w.IngestWithNotes(env.writeJSON(name, i), name, noteIf(i%2 == 0)); w.Close() }) {
			t.Fatalf("%s: no crash", point)
		}
		time.Sleep(s3LeaseTTL + 200*time.Millisecond)
		w2, err := OpenWriter(loc, env.opts(nil))
		if err != nil {
			t.Fatalf("%s: recovery: %v", point, err)
		}
		w2.Close()
		res := mustCheck(t, loc, CheckOptions{}, CodeUnlistedFile)
		// From the file's upload on, the entry exists after recovery.
		committed := point != "pending.synced" && point != "sealed.synced"
		if committed {
			want++
		}
		if res.Size != int64(want) {
			t.Errorf("%s: %d entries after recovery, want %d", point, res.Size, want)
		}
		if res.Has(CodeUnlistedFile) {
			t.Errorf("%s: a file without an entry", point)
		}
	}
}

// The S3 server killed and restarted while files are ingested: every
// ingest that returned is in the archive once, a failed writer recovers
// after the restart, and the audit is clean.
func TestS3ServerKilledMidIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the S3 server")
	}
	old := s3LeaseTTL
	s3LeaseTTL = 2 * time.Second
	defer func() { s3LeaseTTL = old }()
	srv := startPrivateS3(t)
	loc := "s3://" + srv.Bucket(t, true) + "/k"
	env := newEnv(t)
	w, err := Create(loc, s3Opts(env))
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]bool{}
	killed := false
	for i := 1; i <= 40; i++ {
		name := fmt.Sprintf("k/%03d.json", i)
		if i == 15 {
			go func() { time.Sleep(30 * time.Millisecond); srv.Kill() }()
			killed = true
		}
		if w == nil {
			if !killed {
				t.Fatal("no writer")
			}
			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
			killed = false
			time.Sleep(s3LeaseTTL)
			if w, err = OpenWriter(loc, env.opts(nil)); err != nil {
				t.Fatalf("reopening after the restart: %v", err)
			}
		}
		if _, err := w.Ingest(env.writeJSON(name, i), name); err != nil {
			t.Logf("ingest %s: %v", name, err)
			w.Close()
			w = nil
			continue
		}
		ok[name] = true
	}
	if w != nil {
		w.Close()
	}
	res := mustCheck(t, loc, CheckOptions{})
	seen := map[string]int{}
	r, err := OpenReader(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for e, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		seen[e.Name]++
	}
	for name := range ok {
		if seen[name] != 1 {
			t.Errorf("%s: %d entries", name, seen[name])
		}
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s: %d entries", name, n)
		}
	}
	t.Logf("%d entries, %d ingests returned", res.Size, len(ok))
	if len(ok) < 30 {
		t.Errorf("only %d ingests succeeded", len(ok))
	}
}

// flaky fails every nth request: alternately before it reaches the server
// and after the server answered (the answer lost), the worse case for
// conditional writes.
type flaky struct {
	n     int
	count atomic.Int64
	lost  atomic.Int64
}

func (f *flaky) RoundTrip(req *http.Request) (*http.Response, error) {
	c := f.count.Add(1)
	if c%int64(f.n) != 0 {
		return http.DefaultTransport.RoundTrip(req)
	}
	if (c/int64(f.n))%2 == 0 {
		return nil, fmt.Errorf("flaky: request %d dropped", c)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		f.lost.Add(1)
	}
	return nil, fmt.Errorf("flaky: the answer to request %d was lost", c)
}

// A network error on every 7th request: ingests either succeed or fail
// the writer, which recovers on reopening; nothing is lost or duplicated
// and the audit (over the same network) is clean.
func TestS3FlakyNetwork(t *testing.T) {
	_, loc := newS3Location(t)
	f := &flaky{n: 7}
	s3Transport = f
	defer func() { s3Transport = nil }()
	env := newEnv(t)
	var w *Writer
	var err error
	for try := 0; w == nil; try++ {
		if w, err = Create(loc, s3Opts(env)); err != nil && (try > 5 || ReasonOf(err) != ReasonIO) {
			t.Fatal(err)
		}
	}
	ok := map[string]bool{}
	for i := 1; i <= 30; i++ {
		name := fmt.Sprintf("f/%03d.json", i)
		for w == nil {
			if w, err = OpenWriter(loc, env.opts(nil)); err != nil {
				if ReasonOf(err) != ReasonIO && ReasonOf(err) != ReasonLocked {
					t.Fatalf("reopening: %v", err)
				}
				w = nil
				time.Sleep(100 * time.Millisecond)
			}
		}
		if _, err := w.Ingest(env.writeJSON(name, i), name); err != nil {
			t.Logf("ingest %s: %v", name, err)
			w.Close()
			w = nil
			i-- // the same file again
			continue
		}
		ok[name] = true
	}
	for w != nil {
		if err := w.Close(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
		if w, err = OpenWriter(loc, env.opts(nil)); err != nil {
			w = nil
		}
	}
	var res *CheckResult
	for try := 0; ; try++ {
		if res, err = Check(loc, CheckOptions{}); err == nil || try > 5 {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		if p.Code != CodeEntryNotCovered {
			t.Errorf("problem %s", p)
		}
	}
	seen := map[string]int{}
	r, err := OpenReader(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for e, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		seen[e.Name]++
	}
	for name, n := range seen {
		if n != 1 && !ok[name] {
			t.Errorf("%s: %d entries", name, n)
		}
	}
	for name := range ok {
		if seen[name] < 1 {
			t.Errorf("%s lost", name)
		}
	}
	t.Logf("%d requests, %d answers lost, %d entries", f.count.Load(), f.lost.Load(), res.Size)
	if f.lost.Load() == 0 {
		t.Error("no answer was lost: the test tested nothing")
	}
}

// writeLayoutFile and readArchiveFile/listArchiveDir: a file written once
// under a new directory of the layout (as checkpoints/<size>.note and its
// token will be), read back and listed the same way on disk and on S3,
// never replaced.
func TestLayoutFileBothDrivers(t *testing.T) {
	_, loc := newS3Location(t)
	env := newEnv(t)
	disk := t.TempDir() + "/a"
	for _, dir := range []string{disk, loc} {
		opts := s3Opts(env)
		w, err := Create(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct{ name, data string }{{stampNoteName(1), "note"}, {stampTokenName(1), "token"}} {
			if err := w.writeLayoutFile(f.name, []byte(f.data)); err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			if err := w.writeLayoutFile(f.name, []byte(f.data)); err != nil {
				t.Fatalf("%s: the same bytes again: %v", dir, err)
			}
			if err := w.writeLayoutFile(f.name, []byte("other")); ReasonOf(err) != ReasonExists {
				t.Fatalf("%s: other bytes: %v", dir, err)
			}
			got, err := readArchiveFile(dir, f.name)
			if err != nil || string(got) != f.data {
				t.Fatalf("%s: read back %q, %v", dir, got, err)
			}
		}
		if err := w.writeLayoutFile("../x", []byte("x")); ReasonOf(err) != ReasonInvalidArgument {
			t.Fatalf("%s: ../x: %v", dir, err)
		}
		w.Close()
		names, err := listArchiveDir(dir, "checkpoints")
		if err != nil || strings.Join(names, " ") != "1.note 1.tst" {
			t.Fatalf("%s: listed %q, %v", dir, names, err)
		}
		// Not a signed note: Check says so, on both drivers alike.
		if res := mustCheck(t, dir, CheckOptions{}, CodeCheckpointInvalid); !res.Has(CodeCheckpointInvalid) {
			t.Errorf("%s: a kept note that is no checkpoint was not reported", dir)
		}
	}
}

// An idle writer keeps its lease: a second writer is refused however long
// the first waits, and takes over once the first is gone (its lease
// expired) — the first then fails at its next write, never interleaving.
func TestS3LeaseKeptWhileIdle(t *testing.T) {
	old := s3LeaseTTL
	s3LeaseTTL = 800 * time.Millisecond
	defer func() { s3LeaseTTL = old }()
	_, loc := newS3Location(t)
	env := newEnv(t)
	w, err := Create(loc, s3Opts(env))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * s3LeaseTTL)
	if _, err := OpenWriter(loc, env.opts(nil)); ReasonOf(err) != ReasonLocked {
		t.Fatalf("a second writer beside an idle one: %v", err)
	}
	if _, err := w.Ingest(env.writeJSON("a.json", 1), "a.json"); err != nil {
		t.Fatal(err)
	}
	// The first writer stops renewing (as if its process hung): the
	// second takes over after the lease, and the first cannot append.
	w.s3.halt()
	time.Sleep(s3LeaseTTL + 300*time.Millisecond)
	w2, err := OpenWriter(loc, env.opts(nil))
	if err != nil {
		t.Fatalf("taking over an expired lease: %v", err)
	}
	if _, err := w2.Ingest(env.writeJSON("b.json", 2), "b.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Ingest(env.writeJSON("c.json", 3), "c.json"); ReasonOf(err) != ReasonLocked {
		t.Fatalf("the first writer after the takeover: %v", err)
	}
	w.Close()
	w2.Close()
	res := mustCheck(t, loc, CheckOptions{})
	if res.Size != 2 {
		t.Errorf("%d entries", res.Size)
	}
}

// An object no entry lists under the next archive name (slipped into the
// bucket, without retention): the writer takes the next version's name,
// and the audit reports the stray object alone, and its missing retention.
func TestS3WriterStrayObject(t *testing.T) {
	_, loc := newS3Location(t)
	env := newEnv(t)
	w, err := Create(loc, s3Opts(env))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := openS3(loc)
	if err := st.putBytesOnce(filesDir+"/a.json", []byte("{}"), nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	e, err := w.Ingest(env.writeJSON("a.json", 1), "a.json")
	if err != nil {
		t.Fatal(err)
	}
	if e.ArchiveName != "a.v2.json" || e.Seq != 1 {
		t.Errorf("archived as %q, seq %d", e.ArchiveName, e.Seq)
	}
	w.Close()
	res := mustCheck(t, loc, CheckOptions{}, CodeUnlistedFile, CodeRetentionMissing)
	if len(res.Problems) != 2 || res.Problems[0].Name != filesDir+"/a.json" || res.Problems[1].Name != filesDir+"/a.json" {
		t.Errorf("problems:\n%s", problemCodes(res))
	}
}

// Reader.OpenFile gives the archived bytes on both drivers (a small file
// read whole, a large one streamed), refuses a file whose size is not the
// logged one, and says fs.ErrNotExist for a missing one.
func TestReaderOpenFileBothDrivers(t *testing.T) {
	_, loc := newS3Location(t)
	env := newEnv(t)
	wav := samples.WAV(8000, 330, 440) // 5 MiB: more than s3WholeRead
	for _, dir := range []string{t.TempDir() + "/a", loc} {
		w, err := Create(dir, s3Opts(env))
		if err != nil {
			t.Fatal(err)
		}
		small, err := w.Ingest(env.writeJSON("e.json", 1), "e.json")
		if err != nil {
			t.Fatal(err)
		}
		large, err := w.Ingest(env.write("rec.wav", wav), "rec.wav")
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		r, err := OpenReader(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []*Entry{small, large} {
			f, err := r.OpenFile(e)
			if err != nil {
				t.Fatalf("%s: %v", r.FilePath(e), err)
			}
			data, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
			f.Close()
			if err != nil || int64(len(data)) != e.SealedSize {
				t.Fatalf("%s: %d bytes, %v", r.FilePath(e), len(data), err)
			}
			o, err := timeline.Open(bytes.NewReader(data), int64(len(data)))
			if err != nil || o.Envelope == nil {
				t.Fatalf("%s: %v", r.FilePath(e), err)
			}
			if sum := sha256.Sum256(o.EnvelopeBytes); hex.EncodeToString(sum[:]) != e.EnvelopeSHA256() {
				t.Errorf("%s: not the logged seal", r.FilePath(e))
			}
			wrong := *e
			wrong.SealedSize++
			if _, err := r.OpenFile(&wrong); ReasonOf(err) != ReasonCorrupt {
				t.Errorf("%s with the wrong size: %v", r.FilePath(e), err)
			}
		}
		if _, err := r.OpenFile(&Entry{ArchiveName: "missing.json"}); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: a missing file: %v", dir, err)
		}
		r.Close()
	}
}
