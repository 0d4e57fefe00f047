package archive

import "testing"

// seqIndex answers exactly even when every key's hash collides.
func TestSeqIndexCollisions(t *testing.T) {
	for _, name := range []string{"real hash", "all collide"} {
		t.Run(name, func(t *testing.T) {
			x := newSeqIndex()
			if name == "all collide" {
				x.hash = func(string) uint64 { return 7 }
			}
			keys := map[int64]string{}
			keyOf := func(seq int64) (string, bool) { k, ok := keys[seq]; return k, ok }
			put := func(k string, seq int64) { keys[seq] = k; x.put(k, seq, keyOf) }
			put("a", 1)
			put("b", 2)
			put("a", 3) // a new version of a
			put("c", 4)
			for k, want := range map[string]int64{"a": 3, "b": 2, "c": 4} {
				if got, ok := x.get(k, keyOf); !ok || got != want {
					t.Errorf("get(%q) = %d, %v; want %d", k, got, ok, want)
				}
			}
			if _, ok := x.get("d", keyOf); ok {
				t.Error("get(d) found a key never put")
			}
		})
	}
}
