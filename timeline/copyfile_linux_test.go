package timeline

import (
	"bytes"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel copy (copy_file_range, hashed back from the output's page
// cache) writes the same sealed file as the copy through buffers, byte for
// byte, at sizes around its windows, and falls back where it cannot work.
func TestSealFileKernelCopy(t *testing.T) {
	leaf := testLeaf(t, elliptic.P256())
	s, err := NewSigner(leaf.Cert, nil, leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	seal := func(in, out string, kernel bool) []byte {
		t.Helper()
		fileCopyDisabled.Store(!kernel)
		defer fileCopyDisabled.Store(false)
		_, err := SealFile(in, out, false, SealOptions{Name: "x.wav", Signer: s, Time: at})
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, size := range []int64{4<<20 + 8, 8<<20 + 8, 8<<20 + 9, 16<<20 + 8, 17<<20 + 3, 25<<20 + 1} {
		orig := make([]byte, size)
		rand.Read(orig)
		copy(orig, "RIFF\x00\x00\x00\x00WAVE")
		in := filepath.Join(dir, "in.wav")
		if err := os.WriteFile(in, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		before := kernelCopies.Load()
		viaKernel := seal(in, filepath.Join(dir, "kernel.wav"), true)
		if kernelCopies.Load() == before {
			// Only a kernel or file system without copy_file_range
			// between two files of one directory gets here.
			t.Skipf("size %d: the kernel did not copy (no copy_file_range in %s): only the buffered copy is tested", size, dir)
		}
		viaBuffers := seal(in, filepath.Join(dir, "buffers.wav"), false)
		if !bytes.Equal(viaKernel[8:size], orig[8:]) {
			t.Errorf("size %d: the kernel copy's audio differs from the original", size)
		}
		// The signatures are randomized (and so is their length, which
		// the RIFF size field in [4,8) follows): everything else is the
		// same.
		ek, eb := openEnvelope(t, viaKernel), openEnvelope(t, viaBuffers)
		ek.Sig, eb.Sig = "", ""
		if !bytes.Equal(viaKernel[8:size], viaBuffers[8:size]) || !bytes.Equal(ek.Marshal(), eb.Marshal()) {
			t.Errorf("size %d: kernel copy and buffered copy give different sealed files", size)
		}
		f, _ := os.Open(filepath.Join(dir, "kernel.wav"))
		o, err := Open(f, int64(len(viaKernel)))
		f.Close()
		sum := sha256.Sum256(orig)
		if err != nil || o.Envelope == nil || o.Envelope.SHA256 != hex.EncodeToString(sum[:]) || o.Has(CodeDigestMismatch) {
			t.Errorf("size %d: the kernel-copied seal does not open with the original's digest: %v", size, err)
		}
		for _, p := range []string{"kernel.wav", "buffers.wav"} {
			os.Remove(filepath.Join(dir, p))
		}
	}
}

// A source that ends before the size given is refused, by either copy; an
// output open for writing only takes the kernel copy too (the hasher reads
// the source, not the output).
func TestKernelCopyShortSourceAndWriteOnly(t *testing.T) {
	leaf := testLeaf(t, elliptic.P256())
	s, _ := NewSigner(leaf.Cert, nil, leaf.Key)
	dir := t.TempDir()
	orig := make([]byte, 10<<20)
	rand.Read(orig)
	copy(orig, "RIFF\x00\x00\x00\x00WAVE")
	in := filepath.Join(dir, "in.wav")
	if err := os.WriteFile(in, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, kernel := range []bool{true, false} {
		fileCopyDisabled.Store(!kernel)
		src, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(dir, "out.wav"))
		if err != nil {
			t.Fatal(err)
		}
		before := kernelCopies.Load()
		_, err = Seal(dst, src, int64(len(orig))+copyWindow, SealOptions{Name: "x.wav", Signer: s})
		var te *Error
		if !errors.As(err, &te) || te.Reason != ReasonIO || !strings.Contains(err.Error(), "changed while it was read") {
			t.Errorf("kernel %v: a source shorter than its size: %v, want the file-changed I/O error", kernel, err)
		}
		if !kernel && kernelCopies.Load() > before {
			t.Errorf("the kernel copy ran while disabled")
		}
		src.Close()
		dst.Close()
	}
	fileCopyDisabled.Store(false)
	src, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(dir, "wo.wav"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	before := kernelCopies.Load()
	res, err := Seal(dst, src, int64(len(orig)), SealOptions{Name: "x.wav", Signer: s})
	dst.Close()
	sum := sha256.Sum256(orig)
	if err != nil || res.Envelope.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("write-only output: %v", err)
	}
	if kernelCopies.Load() == before {
		t.Log("the kernel did not copy here (no copy_file_range between these files): the buffered copy was tested")
	}
}

// A copy the kernel got wrong (here: zeros written over part of a window
// after it was copied, as a block-cloning bug did) is not sealed as if it
// were the original: the seal holds the original's digest, so the sealed
// file fails verification with a digest mismatch.
func TestKernelCopyGoneWrongFailsVerification(t *testing.T) {
	leaf := testLeaf(t, elliptic.P256())
	s, _ := NewSigner(leaf.Cert, nil, leaf.Key)
	dir := t.TempDir()
	orig := make([]byte, copyWindow+2<<20)
	rand.Read(orig)
	copy(orig, "RIFF\x00\x00\x00\x00WAVE")
	in, out := filepath.Join(dir, "in.wav"), filepath.Join(dir, "out.wav")
	if err := os.WriteFile(in, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	afterCopyWindow = func(dfd int, off, n int64) {
		if _, err := unix.Pwrite(dfd, make([]byte, 4096), off+n/2); err != nil {
			t.Error(err)
		}
	}
	defer func() { afterCopyWindow = nil }()
	before := kernelCopies.Load()
	if _, err := SealFile(in, out, false, SealOptions{Name: "x.wav", Signer: s}); err != nil {
		t.Fatal(err)
	}
	if kernelCopies.Load() == before {
		t.Skip("the kernel did not copy here (no copy_file_range between these files)")
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	o, err := Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(orig)
	if o.Envelope == nil || o.Envelope.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatal("the seal does not hold the original's digest")
	}
	if !o.Has(CodeDigestMismatch) {
		t.Fatal("a corrupted copy verifies: the seal was made over the output's bytes, not the original's")
	}
}

func openEnvelope(t *testing.T, sealed []byte) *Envelope {
	t.Helper()
	o, err := Open(bytes.NewReader(sealed), int64(len(sealed)))
	if err != nil || o.Envelope == nil {
		t.Fatalf("open: %v", err)
	}
	return o.Envelope
}

// Verifying a large sealed file hashes it through mappings of the file: the
// same digest as through buffers, and a byte changed anywhere in the
// original (in either window, in the last byte) is a digest mismatch either
// way; one in the sealed header's size field (not part of the digest) is a
// size mismatch.
func TestOpenMappedDigest(t *testing.T) {
	leaf := testLeaf(t, elliptic.P256())
	s, _ := NewSigner(leaf.Cert, nil, leaf.Key)
	dir := t.TempDir()
	size := int64(copyWindow + 3<<20 + 5)
	orig := make([]byte, size)
	rand.Read(orig)
	copy(orig, "RIFF\x00\x00\x00\x00WAVE")
	in, sealed := filepath.Join(dir, "in.wav"), filepath.Join(dir, "sealed.wav")
	if err := os.WriteFile(in, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := SealFile(in, sealed, false, SealOptions{Name: "x.wav", Signer: s}); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(sealed)
	open := func(data []byte, mapped bool) *Opened {
		t.Helper()
		p := filepath.Join(dir, "check.wav")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fileCopyDisabled.Store(!mapped)
		defer fileCopyDisabled.Store(false)
		o, err := Open(f, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	want := sha256.Sum256(orig)
	for _, mapped := range []bool{true, false} {
		before := mappedHashes.Load()
		if o := open(good, mapped); o.Has(CodeDigestMismatch) || o.OriginalSHA256 != want {
			t.Fatalf("mapped %v: the intact file does not give the original's digest (%v)", mapped, o.Problems)
		}
		if ran := mappedHashes.Load() > before; ran != mapped {
			t.Fatalf("mapped %v: the mapped hashing ran: %v", mapped, ran)
		}
		// Windows start at 8 + k·copyWindow: their last and first bytes.
		for _, at := range []int64{5, 9, 13, 4 << 20, copyWindow + 7, copyWindow + 8, size - 1} {
			bad := bytes.Clone(good)
			bad[at] ^= 0x40
			o := open(bad, mapped)
			if at >= 8 && !o.Has(CodeDigestMismatch) || len(o.Problems) == 0 {
				t.Errorf("mapped %v: byte %d changed, no digest mismatch (%v)", mapped, at, o.Problems)
			}
		}
	}
}

// A file cut short under its mapping faults on access: hashFileRange
// returns an error instead of crashing the process.
func TestHashFileRangeFault(t *testing.T) {
	p := filepath.Join(t.TempDir(), "short")
	page := os.Getpagesize()
	if err := os.WriteFile(p, make([]byte, page), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Map three pages of a one-page file: the second faults (SIGBUS).
	err = hashFileRange(sha256.New(), int(f.Fd()), 0, int64(3*page))
	if err == nil {
		t.Fatal("hashing past the end of a mapped file gave no error")
	}
	t.Log(err)
}
