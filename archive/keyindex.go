package archive

import (
	"cmp"
	"hash/maphash"
	"slices"
)

// keyIndex records one kind of key of every entry (its archive name, its
// envelope, its source name) for Check: a 64-bit hash of the key and the
// entry's seq, 16 bytes an entry in one slice presized from log/index, so
// that an archive of millions of entries is checked in bounded memory (a
// map costs several times that, twice over while it grows). Entries sharing
// a key are found after the scan by sorting; equal hashes are confirmed by
// reading the keys back from the log (keyOf), so a hash collision can
// neither cause nor hide a finding.
type keyIndex struct {
	items []keyedSeq
	hash  func(string) uint64 // tests force collisions
	// hashBytes is hash of a key held as bytes (maphash.Bytes equals
	// maphash.String of the same bytes), without copying it to a string;
	// nil: addBytes uses hash.
	hashBytes func([]byte) uint64
	keyOf     func(seq int64) (string, bool)
	// isKey, when set, confirms a lookup (has) in place of keyOf: it
	// compares the key with the log's bytes without decoding the record
	// (files/ is looked up once per file it holds).
	isKey func(seq int64, key string) bool
}

type keyedSeq struct {
	h   uint64
	seq int64
}

// newKeyIndex returns an index for about n entries whose keys keyOf reads
// back from the log.
func newKeyIndex(n int64, seed maphash.Seed, keyOf func(seq int64) (string, bool)) *keyIndex {
	return &keyIndex{
		items:     make([]keyedSeq, 0, n),
		hash:      func(s string) uint64 { return maphash.String(seed, s) },
		hashBytes: func(b []byte) uint64 { return maphash.Bytes(seed, b) },
		keyOf:     keyOf,
	}
}

// add records the key of seq; seqs are added in increasing order.
func (x *keyIndex) add(key string, seq int64) {
	x.items = append(x.items, keyedSeq{x.hash(key), seq})
}

// addBytes is add for a key held as bytes (an envelope): no copy of it
// is made to hash it.
func (x *keyIndex) addBytes(key []byte, seq int64) {
	if x.hashBytes == nil {
		x.add(string(key), seq)
		return
	}
	x.items = append(x.items, keyedSeq{x.hashBytes(key), seq})
}

// sort must be called once, after the last add and before shared or has.
func (x *keyIndex) sort() {
	slices.SortFunc(x.items, func(a, b keyedSeq) int {
		if c := cmp.Compare(a.h, b.h); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
}

// shared calls fn with the seqs of every key held by more than one entry,
// in increasing order.
func (x *keyIndex) shared(fn func(seqs []int64)) {
	var run []int64
	for i := 0; i < len(x.items); {
		j := i + 1
		for j < len(x.items) && x.items[j].h == x.items[i].h {
			j++
		}
		if j-i == 1 {
			i = j
			continue
		}
		// Entries with the same hash: split them by their actual keys,
		// keeping the order of seqs within each key.
		run = run[:0]
		keys := make([]string, 0, j-i)
		for _, it := range x.items[i:j] {
			k, ok := x.keyOf(it.seq)
			if !ok {
				continue // unreadable: reported by the scan already
			}
			run = append(run, it.seq)
			keys = append(keys, k)
		}
		done := make([]bool, len(run))
		for a := range run {
			if done[a] {
				continue
			}
			var seqs []int64
			for b := a; b < len(run); b++ {
				if !done[b] && keys[b] == keys[a] {
					done[b] = true
					seqs = append(seqs, run[b])
				}
			}
			if len(seqs) > 1 {
				fn(seqs)
			}
		}
		i = j
	}
}

// has reports whether some entry's key is key.
func (x *keyIndex) has(key string) bool {
	h := x.hash(key)
	i, _ := slices.BinarySearchFunc(x.items, h, func(it keyedSeq, h uint64) int { return cmp.Compare(it.h, h) })
	for ; i < len(x.items) && x.items[i].h == h; i++ {
		if x.isKey != nil {
			if x.isKey(x.items[i].seq, key) {
				return true
			}
		} else if k, ok := x.keyOf(x.items[i].seq); ok && k == key {
			return true
		}
	}
	return false
}
