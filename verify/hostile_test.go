package verify_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/verify"
)

// Hostile input: files an adversary wrote to make the verifier crash, hang,
// exhaust memory or pass. Each ends in bounded time and memory with a
// verdict other than passed and a finding naming the cause (the limits are
// in docs/threat-model.md). Files are verified from disk, as an examiner's
// would be, and a seal of the test signer is spliced onto each, so that the
// seal-locating code runs on the hostile bytes too.
func TestHostileInput(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	dir := t.TempDir()

	tinyChunks := func(n int) []byte {
		b := []byte("RIFF\x00\x00\x00\x00WAVE")
		for range n {
			b = append(b, "junk\x00\x00\x00\x00"...)
		}
		binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
		return b
	}
	hugeChunk := append([]byte("RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff"), make([]byte, 1000)...)
	deep := func(n int) []byte {
		return slices.Concat([]byte(`{"a":`), bytes.Repeat([]byte("["), n), bytes.Repeat([]byte("]"), n), []byte(`}`))
	}
	bigString := func(n int) []byte {
		return slices.Concat([]byte(`{"a":"`), bytes.Repeat([]byte("x"), n), []byte(`"}`))
	}
	// A valid seal chunk / member of another file, put at the end.
	donorWAV := seal(t, p.signer, samples.WAV(8000, 0.01, 440), now)
	wavSealChunk := donorWAV[len(samples.WAV(8000, 0.01, 440)):]
	donorJSON := seal(t, p.signer, []byte(`{"b":1}`), now)
	jsonSealMember := donorJSON[len(`{"b":1`) : len(donorJSON)-1] // ,"seal":{...}
	withWAVSeal := func(b []byte) []byte {
		out := slices.Concat(b, wavSealChunk)
		binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
		return out
	}
	withJSONSeal := func(b []byte) []byte {
		return slices.Concat(b[:len(b)-1], jsonSealMember, []byte("}"))
	}

	cases := []struct {
		name string
		data []byte
		want []string // one of these codes must be among the findings
	}{
		{"RIFF of 100,000 tiny chunks", tinyChunks(100000), []string{"seal.missing"}},
		{"RIFF of 100,000 tiny chunks, another file's seal", withWAVSeal(tinyChunks(100000)), []string{"seal.offsetMismatch", "content.digestMismatch", "content.sizeMismatch"}},
		{"RIFF chunk size 0xFFFFFFFF", hugeChunk, []string{"seal.missing"}},
		{"RIFF chunk size 0xFFFFFFFF, another file's seal", withWAVSeal(hugeChunk), []string{"seal.offsetMismatch", "content.digestMismatch", "content.sizeMismatch"}},
		{"JSON nested 100,000 deep", deep(100000), []string{"seal.missing"}},
		{"JSON nested 100,000 deep, another file's seal", withJSONSeal(deep(100000)), []string{"content.digestMismatch", "content.sizeMismatch"}},
		{"JSON with a 50 MB string", bigString(50 << 20), []string{"seal.missing"}},
		{"JSON with a 50 MB string, another file's seal", withJSONSeal(bigString(50 << 20)), []string{"content.digestMismatch", "content.sizeMismatch"}},
		{"JSON nested deeper than the limit", deep(1<<20 + 1), []string{"json.invalid"}},
		{"envelope of 2 MiB", withJSONSeal([]byte(`{"b":1}`))[:0], nil}, // replaced below
	}
	// An envelope over the limit: a huge certPem.
	big := strings.Replace(string(donorJSON), `"certPem":"`, `"certPem":"`+strings.Repeat("A", 2<<20), 1)
	cases[len(cases)-1] = struct {
		name string
		data []byte
		want []string
	}{"envelope of 2 MiB", []byte(big), []string{"seal.malformed"}}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "hostile")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			res, err := verify.File(path, p.trust)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("error instead of a verdict: %v", err)
			}
			if res.Verdict == verify.Passed {
				t.Fatalf("passed: %v", codes(res))
			}
			if !slices.ContainsFunc(c.want, func(w string) bool { return slices.Contains(codes(res), w) }) {
				t.Errorf("findings %v, want one of %v", codes(res), c.want)
			}
			// Memory does not grow with the file: at most 16 MiB allocated
			// for files of up to 50 MiB (streamed, not held).
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("allocated %d MiB for a %d MiB file", alloc>>20, len(c.data)>>20)
			}
			t.Logf("%s: %v in %v", res.Verdict, codes(res), took.Round(time.Millisecond))
		})
	}
}
