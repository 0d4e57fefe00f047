package verify

import (
	"strings"
	"testing"
)

// The spool gives back, in seq order then in the order put, the latest
// item of each seq, lines longer than its read window included.
func TestItemSpool(t *testing.T) {
	s, err := newItemSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
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
}
