package archive

import (
	"hash/maphash"
	"reflect"
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
