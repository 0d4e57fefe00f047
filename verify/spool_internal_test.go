package verify

import (
	"fmt"
	"strings"
	"testing"
)

// The spool gives back, in seq order then in the order put, the latest
// item of each seq, lines longer than its read window included: held in
// memory, spilled to its file from the start, or spilled half way.
func TestItemSpool(t *testing.T) {
	for _, hold := range []int{spoolHoldItems, 0, 3} {
		t.Run(fmt.Sprint("hold=", hold), func(t *testing.T) { testItemSpool(t, hold) })
	}
}

func testItemSpool(t *testing.T, hold int) {
	s, err := newItemSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.hold = hold
	long := strings.Repeat("x", 200<<10)
	put := func(seq int64, path string) {
		t.Helper()
		if err := s.put(seq, &ItemResult{Path: path, Entry: seq, Findings: []Finding{}}); err != nil {
			t.Fatal(err)
		}
	}
	put(5, "five")
	put(0, "unlisted-b")
	put(2, long)
	put(9, "nine-old")
	put(0, "unlisted-a")
	put(9, "nine")
	if it, err := s.get(9); err != nil || it == nil || it.Path != "nine" {
		t.Fatalf("get(9) = %v, %v", it, err)
	}
	if it, err := s.get(3); err != nil || it != nil {
		t.Fatalf("get(3) = %v, %v", it, err)
	}
	if it, err := s.get(2); err != nil || it.Path != long {
		t.Fatalf("get(2): %v", err)
	}
	for range 2 {
		var got []string
		if err := s.each(func(it *ItemResult) bool { got = append(got, it.Path[:min(len(it.Path), 10)]); return true }); err != nil {
			t.Fatal(err)
		}
		if want := "xxxxxxxxxx five nine unlisted-b unlisted-a"; strings.Join(got, " ") != want {
			t.Errorf("items %q, want %q", got, want)
		}
	}
	n := 0
	s.each(func(*ItemResult) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("each went on after yield returned false: %d", n)
	}
	if spilled := s.mem == nil; spilled != (hold < 6) {
		t.Errorf("%d items put with hold %d: spilled %v", 6, hold, spilled)
	}
}

// Many items come back in order across the read-ahead's batches, and a
// damaged spool line is an error, after the items before it (spilled from
// the start, or after 500 items).
func TestItemSpoolBatches(t *testing.T) {
	for _, hold := range []int{0, 500} {
		t.Run(fmt.Sprint("hold=", hold), func(t *testing.T) { testItemSpoolBatches(t, hold) })
	}
}

func testItemSpoolBatches(t *testing.T, hold int) {
	s, err := newItemSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.hold = hold
	const n = 1000
	for seq := int64(n); seq >= 1; seq-- {
		if err := s.put(seq, &ItemResult{Path: fmt.Sprint(seq), Entry: seq, Findings: []Finding{}}); err != nil {
			t.Fatal(err)
		}
	}
	var got int64
	if err := s.each(func(it *ItemResult) bool {
		got++
		if it.Entry != got {
			t.Fatalf("item %d is entry %d", got, it.Entry)
		}
		return true
	}); err != nil || got != n {
		t.Fatalf("each: %d items, %v", got, err)
	}
	if err := s.sync(); err != nil {
		t.Fatal(err)
	}
	// Break entry 700's line.
	if _, err := s.f.WriteAt([]byte("#"), s.offs[699]-1); err != nil {
		t.Fatal(err)
	}
	got = 0
	err = s.each(func(*ItemResult) bool { got++; return true })
	if err == nil || got != 699 {
		t.Errorf("each over a damaged spool: %d items, error %v; want 699 and an error", got, err)
	}
}
