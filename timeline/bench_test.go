package timeline_test

// Benchmarks of sealing and opening (issue 2's performance targets). They
// measure; they assert nothing about time. bench/run.sh runs them next to
// the command-line comparisons and writes docs/performance.md.
//
//	go test -run '^$' -bench . -benchmem ./timeline

import (
	"bytes"
	"crypto/ecdsa"
	crand "crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
)

// benchRIFFSize is the size of the in-memory WAV of the RIFF benchmarks:
// large enough that per-file costs (envelope, signature, chunk walk) vanish
// next to the per-byte cost, small enough for a quick run.
const benchRIFFSize = 64 << 20

// benchSink is an io.WriteSeeker that keeps nothing: what Seal writes to
// when only its reading, hashing and signing are measured.
type benchSink struct{ off, size int64 }

func (s *benchSink) Write(p []byte) (int, error) {
	s.off += int64(len(p))
	s.size = max(s.size, s.off)
	return len(p), nil
}

func (s *benchSink) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += s.off
	case io.SeekEnd:
		off += s.size
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	s.off = off
	return off, nil
}

// benchWAV returns a 16-bit stereo PCM WAVE file of size bytes of noise.
func benchWAV(size int) []byte {
	pcm := make([]byte, size-44)
	rng := rand.NewChaCha8([32]byte{'t', 'l', 's', 'e', 'a', 'l'})
	rng.Read(pcm)
	return samples.WAVFromPCM(48000, 2, 16, pcm)
}

// benchEvent returns an event JSON file of about 1.2 KiB: sealed with a
// P-256 signer it is about 2 KiB, the size of the batch benchmarks.
func benchEvent() []byte {
	ev := samples.EventJSON(1, time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC), "rec-0001.wav")
	pad := 1200 - len(ev) - len(",\n  \"notes\": \"\"")
	if pad < 0 {
		pad = 0
	}
	i := bytes.LastIndexByte(ev, '}')
	var b bytes.Buffer
	b.Write(bytes.TrimRight(ev[:i], " \n"))
	b.WriteString(",\n  \"notes\": \"" + strings.Repeat("x", pad) + "\"\n}\n")
	return b.Bytes()
}

func benchSigner(b *testing.B) *timeline.Signer {
	ca := testpki.CA(b, testpki.Options{})
	return testpki.Signer(b, testpki.Leaf(b, ca, testpki.Options{}))
}

func benchSeal(b *testing.B, s *timeline.Signer, orig []byte) []byte {
	var out memfile.File
	if _, err := timeline.Seal(&out, bytes.NewReader(orig), int64(len(orig)), timeline.SealOptions{Name: "bench", Signer: s}); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}

// BenchmarkSHA256 is the limit of sealing and verifying a large file: Go's
// SHA-256 over the same number of bytes, in the same 1 MiB pieces.
func BenchmarkSHA256(b *testing.B) {
	data := benchWAV(benchRIFFSize)
	b.SetBytes(int64(len(data)))
	var sum [32]byte
	for b.Loop() {
		h := sha256.New()
		for p := data; len(p) > 0; {
			n := min(len(p), 1<<20)
			h.Write(p[:n])
			p = p[n:]
		}
		h.Sum(sum[:0])
	}
}

// BenchmarkSealRIFF seals a 64 MiB WAV from memory to a sink: read, hash,
// sign, write the trailer; no file system.
func BenchmarkSealRIFF(b *testing.B) {
	s := benchSigner(b)
	data := benchWAV(benchRIFFSize)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var sink benchSink
		if _, err := timeline.Seal(&sink, bytes.NewReader(data), int64(len(data)), timeline.SealOptions{Name: "bench.wav", Signer: s}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealFileRIFF is SealFile on a 64 MiB WAV on disk: the same work
// as BenchmarkSealRIFF plus the temporary file, its fsync, the link and the
// directory's fsync.
func BenchmarkSealFileRIFF(b *testing.B) {
	s := benchSigner(b)
	dir := b.TempDir()
	in := filepath.Join(dir, "in.wav")
	if err := os.WriteFile(in, benchWAV(benchRIFFSize), 0o644); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "out.wav")
	b.SetBytes(benchRIFFSize)
	for b.Loop() {
		if _, err := timeline.SealFile(in, out, true, timeline.SealOptions{Name: "in.wav", Signer: s}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenRIFF opens a sealed 64 MiB WAV in memory: locate the seal,
// parse the envelope, walk the original's chunks, hash the original.
func BenchmarkOpenRIFF(b *testing.B) {
	sealed := benchSeal(b, benchSigner(b), benchWAV(benchRIFFSize))
	if o, err := timeline.Open(bytes.NewReader(sealed), int64(len(sealed))); err != nil || len(o.Problems) > 0 || !o.HasOriginal {
		b.Fatalf("open: %v %+v", err, o)
	}
	b.SetBytes(int64(len(sealed)))
	for b.Loop() {
		if _, err := timeline.Open(bytes.NewReader(sealed), int64(len(sealed))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealJSON seals a 2 KiB (sealed) event JSON file in memory.
func BenchmarkSealJSON(b *testing.B) {
	s := benchSigner(b)
	orig := benchEvent()
	b.SetBytes(int64(len(orig)))
	for b.Loop() {
		var out memfile.File
		if _, err := timeline.Seal(&out, bytes.NewReader(orig), int64(len(orig)), timeline.SealOptions{Name: "event.json", Signer: s}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenJSON opens a sealed 2 KiB event JSON file in memory: scan,
// hash, locate and parse the envelope (no signature check).
func BenchmarkOpenJSON(b *testing.B) {
	sealed := benchSeal(b, benchSigner(b), benchEvent())
	if o, err := timeline.Open(bytes.NewReader(sealed), int64(len(sealed))); err != nil || len(o.Problems) > 0 || !o.HasOriginal {
		b.Fatalf("open: %v %+v", err, o)
	}
	b.SetBytes(int64(len(sealed)))
	for b.Loop() {
		if _, err := timeline.Open(bytes.NewReader(sealed), int64(len(sealed))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEnvelope parses the envelope of a sealed file.
func BenchmarkParseEnvelope(b *testing.B) {
	s := benchSigner(b)
	var sink benchSink
	res, err := timeline.Seal(&sink, bytes.NewReader(benchEvent()), int64(len(benchEvent())), timeline.SealOptions{Name: "event.json", Signer: s})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(res.EnvelopeBytes)))
	for b.Loop() {
		if _, err := timeline.ParseEnvelope(res.EnvelopeBytes); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifySignature checks an envelope's signature: parse certPem,
// canonical signing input, ECDSA P-256 verification.
func BenchmarkVerifySignature(b *testing.B) {
	s := benchSigner(b)
	var sink benchSink
	res, err := timeline.Seal(&sink, bytes.NewReader(benchEvent()), int64(len(benchEvent())), timeline.SealOptions{Name: "event.json", Signer: s})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := timeline.VerifySignature(res.Envelope); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkECDSAP256Verify is crypto/ecdsa alone verifying one P-256
// signature: the floor of verifying a seal, which no cache can remove (every
// seal has its own signature).
func BenchmarkECDSAP256Verify(b *testing.B) {
	s := benchSigner(b)
	key := s.Key.(*ecdsa.PrivateKey)
	digest := sha256.Sum256([]byte("signing input"))
	sig, err := ecdsa.SignASN1(crand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			b.Fatal("signature does not verify")
		}
	}
}
