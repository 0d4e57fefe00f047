package archive

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/timeline"
)

// openFor returns a writer that checkpoints only when asked.
func openFor(t *testing.T, env *testEnv, dir string, logs *logBuffer) *Writer {
	t.Helper()
	o := env.opts(logs)
	o.CheckpointEvery = -1
	w, err := OpenWriter(dir, o)
	if err != nil {
		t.Fatalf("OpenWriter: %v\n%s", err, logs)
	}
	return w
}

// abandon drops a writer without its final checkpoint, as a crash does.
func abandon(w *Writer) { w.release() }

func TestRecoveryQuarantinesForeignOrphan(t *testing.T) {
	env := newEnv(t)
	dir := buildArchive(t, env, 2)
	// A file sits where the pending record says the next entry goes, but
	// it is not the seal the writer made (no chain link): quarantine.
	os.WriteFile(filepath.Join(dir, pendingFile), (&pending{Seq: 4, ArchiveName: "events/x.json"}).marshal(), 0o644)
	src := env.writeJSON("x.json", 7)
	if _, err := timeline.SealFile(src, filePath(dir, "events/x.json"), false, timeline.SealOptions{Name: "events/x.json", Signer: env.signer}); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	w := openFor(t, env, dir, &logs)
	w.Close()
	if !strings.Contains(logs.String(), "quarantined") || !strings.Contains(logs.String(), "chain link") {
		t.Fatalf("no quarantine message:\n%s", logs.String())
	}
	if _, err := os.Stat(filePath(dir, "events/x.json")); !os.IsNotExist(err) {
		t.Fatal("the orphan is still in files/")
	}
	res := mustCheck(t, dir, CheckOptions{}, CodeQuarantined)
	if !res.Has(CodeQuarantined) || res.Size != 3 {
		t.Fatalf("size %d, problems:\n%s", res.Size, problemCodes(res))
	}
}

func TestRecoveryCompletesOrphan(t *testing.T) {
	env := newEnv(t)
	dir := buildArchive(t, env, 2)
	w := openFor(t, env, dir, nil)
	// Kill the append after the sealed file is linked and synced.
	testHook = func(p string) bool {
		if p == "file.synced" {
			panic("crash")
		}
		return false
	}
	func() {
		defer func() { recover() }()
		w.Ingest(env.writeJSON("o.json", 9), "o.json")
	}()
	testHook = nil
	abandon(w)
	var logs logBuffer
	w = openFor(t, env, dir, &logs)
	if w.Size() != 4 {
		t.Fatalf("size %d after completing", w.Size())
	}
	w.Close()
	if !strings.Contains(logs.String(), "completed an ingest") {
		t.Fatalf("no completion message:\n%s", logs.String())
	}
	mustCheck(t, dir, CheckOptions{})
}

// TestRecoveryAfterPowerLoss simulates what a power failure can leave
// after the last checkpoint: index and hashes not synced (garbage or
// zeros), zero bytes appended to log/entries.
func TestRecoveryAfterPowerLoss(t *testing.T) {
	env := newEnv(t)
	dir := buildArchive(t, env, 3) // checkpoint at 4
	w := openFor(t, env, dir, nil)
	for i := 10; i < 13; i++ {
		if _, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i)); err != nil {
			t.Fatal(err)
		}
	}
	abandon(w) // 7 entries, checkpoint at 4

	garble := func(name string, from int64) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		junk := make([]byte, st.Size()-from)
		for i := range junk {
			junk[i] = byte(i*7 + 1)
		}
		f.WriteAt(junk, from)
	}
	garble(hashesFile, tlog.StoredHashCount(4)*hashLen+5)
	garble(indexFile, 5*indexRecordLen+3)
	f, _ := os.OpenFile(filepath.Join(dir, entriesFile), os.O_RDWR|os.O_APPEND, 0)
	f.Write(make([]byte, 3000))
	f.Close()

	// A reader before recovery still serves the checkpointed part.
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, err := r.Checkpoint()
	if err != nil || cp.Size != 4 {
		t.Fatalf("checkpoint %v %v", cp, err)
	}
	e, _ := r.Entry(1)
	if _, err := r.Prove(e); err != nil {
		t.Fatal(err)
	}
	r.Close()

	var logs logBuffer
	w = openFor(t, env, dir, &logs)
	if w.Size() != 7 {
		t.Fatalf("size %d after recovery\n%s", w.Size(), logs.String())
	}
	w.Close()
	if !strings.Contains(logs.String(), "torn tail") {
		t.Fatalf("no torn-tail message:\n%s", logs.String())
	}
	mustCheck(t, dir, CheckOptions{})
}

func TestRecoveryRefusesMidLogDamage(t *testing.T) {
	env := newEnv(t)
	dir := buildArchive(t, env, 3) // checkpoint at 4
	w := openFor(t, env, dir, nil)
	for i := 10; i < 13; i++ {
		if _, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i)); err != nil {
			t.Fatal(err)
		}
	}
	abandon(w)
	// Damage record 6 of 7: it is followed by a valid record, so this is
	// not a torn append; truncating would destroy evidence.
	data, offs := entryRecords(t, dir)
	data[offs[5]+40] ^= 0xff
	os.WriteFile(filepath.Join(dir, entriesFile), data, 0o644)
	if _, err := OpenWriter(dir, env.opts(nil)); ReasonOf(err) != ReasonCorrupt {
		t.Fatalf("OpenWriter: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, entriesFile)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, entriesFile)); len(got) != len(data) {
		t.Fatal("the damaged log was modified")
	}
}

func TestRecoveryWithoutCheckpoint(t *testing.T) {
	env := newEnv(t)
	dir := buildArchive(t, env, 3)
	os.Remove(filepath.Join(dir, checkpointFile))
	os.Truncate(filepath.Join(dir, indexFile), 0)
	os.Truncate(filepath.Join(dir, hashesFile), 0)
	var logs logBuffer
	w := openFor(t, env, dir, &logs)
	if w.Size() != 4 {
		t.Fatalf("size %d", w.Size())
	}
	w.Close()
	if !strings.Contains(logs.String(), "no checkpoint") {
		t.Fatalf("logs:\n%s", logs.String())
	}
	mustCheck(t, dir, CheckOptions{})
}

// A crash at any step of an ingest with notes leaves no entry, or the entry
// with its notes (recovery completes it from the pending record).
func TestCrashKeepsNotes(t *testing.T) {
	env := newEnv(t)
	for _, tc := range []struct {
		point string
		entry bool // whether the entry exists after recovery
	}{
		{"pending.synced", false}, {"sealed.synced", false},
		{"file.linked", true}, {"file.synced", true},
		{"entries.write", true}, // torn record: truncated, then completed
		{"entries.synced", true}, {"hashes.written", true}, {"index.written", true},
	} {
		t.Run(tc.point, func(t *testing.T) {
			dir := buildArchive(t, env, 2)
			w := openFor(t, env, dir, nil)
			testHook = func(p string) bool {
				if p == tc.point && p == "entries.write" {
					return true
				}
				if p == tc.point || p == "entries.torn" {
					panic("crash")
				}
				return false
			}
			func() {
				defer func() { recover() }()
				w.IngestWithNotes(env.writeJSON("o.json", 9), "o.json", testNotes)
			}()
			testHook = nil
			abandon(w)
			var logs logBuffer
			w = openFor(t, env, dir, &logs)
			size := w.Size()
			w.Close()
			r, err := OpenReader(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			switch {
			case !tc.entry && size == 3:
				if _, err := os.Stat(filePath(dir, "o.json")); !os.IsNotExist(err) {
					t.Fatalf("no entry but the file is in files/: %v", err)
				}
			case tc.entry && size == 4:
				e, err := r.Entry(3)
				if err != nil {
					t.Fatal(err)
				}
				if e.Name != "o.json" || !reflect.DeepEqual(e.Notes, testNotes) {
					t.Fatalf("entry %s has notes %+v\n%s", e.Name, e.Notes, logs.String())
				}
			default:
				t.Fatalf("size %d after recovery\n%s", size, logs.String())
			}
			mustCheck(t, dir, CheckOptions{})
		})
	}
}
