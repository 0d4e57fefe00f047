package archive

import (
	"hash/maphash"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// keyIndex answers exactly even when every key's hash collides.
func TestKeyIndexCollisions(t *testing.T) {
	for _, name := range []string{"real hash", "all collide"} {
		t.Run(name, func(t *testing.T) {
			keys := map[int64]string{}
			keyOf := func(seq int64) (string, bool) { k, ok := keys[seq]; return k, ok }
			x := newKeyIndex(2, maphash.MakeSeed(), keyOf)
			if name == "all collide" {
				x.hash = func(string) uint64 { return 7 }
				x.hashBytes = nil
			}
			for seq, k := range []string{"a", "b", "a", "c", "a", "b"} {
				keys[int64(seq+1)] = k
				x.add(k, int64(seq+1))
			}
			x.sort()
			var got [][]int64
			x.shared(func(seqs []int64) { got = append(got, append([]int64(nil), seqs...)) })
			want := [][]int64{{1, 3, 5}, {2, 6}}
			if len(got) == 2 && got[0][0] == 2 {
				got[0], got[1] = got[1], got[0]
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("shared: got %v, want %v", got, want)
			}
			for _, k := range []string{"a", "b", "c"} {
				if !x.has(k) {
					t.Errorf("has(%q) = false", k)
				}
			}
			if x.has("d") {
				t.Error("has(d) found a key never added")
			}
		})
	}
}

// The indexes are presized from a log/index that describes log/entries,
// and not from one that is damaged or sparse (a tampered archive must not
// make the audit reserve memory for entries that are not there).
func TestIndexesPresize(t *testing.T) {
	env := newEnv(t)
	dir := buildArchive(t, env, 5) // 5 events and a WAV
	presized := func() int {
		t.Helper()
		l, err := openLog(dir, false)
		if err != nil {
			t.Fatal(err)
		}
		defer l.close()
		c := &checker{dir: dir, l: l}
		c.newIndexes()
		if cap(c.names.items) != cap(c.offsets) {
			t.Fatalf("indexes of %d, offsets of %d", cap(c.names.items), cap(c.offsets))
		}
		return cap(c.offsets)
	}
	if n := presized(); n != 6 {
		t.Errorf("a sound index: presized for %d entries, want 6", n)
	}
	index := filepath.Join(dir, indexFile)
	writable(t, index)
	if err := os.Truncate(index, 1<<40); err != nil { // sparse: 1 TiB of zeros
		t.Skipf("cannot make a sparse file here: %v", err)
	}
	if n := presized(); n > 1024 {
		t.Errorf("a 1 TiB index of zeros: presized for %d entries", n)
	}
	// Even with a last record that fits (forged), the presize is capped.
	data, err := os.ReadFile(filepath.Join(dir, entriesFile))
	if err != nil {
		t.Fatal(err)
	}
	last := (&indexRecord{Offset: int64(len(data)) - 100, Length: 100, Seq: 1 << 35}).marshal()
	f, err := os.OpenFile(index, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(last, 1<<40-indexRecordLen); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if n := presized(); n > 1<<20 {
		t.Errorf("a 1 TiB index ending in a fitting record: presized for %d entries", n)
	}
	res, err := Check(dir, CheckOptions{})
	if err != nil || !res.Has(CodeIndexMismatch) {
		t.Errorf("Check of the sparse index: %v, %v", err, res)
	}
}

// isArchiveName, which confirms walkFiles' lookups from the name's bytes in
// log/entries, agrees exactly with the names decoded from the records.
func TestIsArchiveName(t *testing.T) {
	env := newEnv(t)
	dir := buildArchive(t, env, 5) // 5 events and a WAV
	meta, err := ReadMetadata(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := openLog(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	c := &checker{dir: dir, meta: meta, l: l, res: &CheckResult{Metadata: meta}}
	c.newIndexes()
	work := make(chan *Entry)
	go func() {
		for range work {
		}
	}()
	if err := c.scan(work); err != nil {
		t.Fatal(err)
	}
	close(work)
	n := int64(len(c.offsets))
	if n != 6 {
		t.Fatalf("%d entries scanned, want 6", n)
	}
	long := strings.Repeat("d/", 200) + "x.json" // longer than the stack buffer
	for seq := int64(1); seq <= n; seq++ {
		name, ok := c.archiveNameOf(seq)
		if !ok {
			t.Fatalf("entry %d: no name", seq)
		}
		if !c.isArchiveName(seq, name) {
			t.Errorf("entry %d: isArchiveName(%q) = false", seq, name)
		}
		other, _ := c.archiveNameOf(seq%n + 1)
		for _, probe := range []string{name + "x", name[:len(name)-1], "", other, long, "x" + name[1:]} {
			if c.isArchiveName(seq, probe) {
				t.Errorf("entry %d (%q): isArchiveName(%q) = true", seq, name, probe)
			}
		}
	}
	for _, seq := range []int64{0, -1, n + 1} {
		if c.isArchiveName(seq, "rec.wav") {
			t.Errorf("isArchiveName(%d, ...) = true", seq)
		}
	}
	c.names.sort()
	if !c.names.has("rec.wav") || c.names.has("rec.wa") || c.names.has("rec.wav.") {
		t.Error("names.has does not answer by the exact name")
	}
}
