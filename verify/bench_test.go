package verify_test

// Benchmarks of verification (issue 2's performance targets). They measure;
// they assert nothing about time. bench/run.sh runs them next to the
// command-line comparisons and writes docs/performance.md.
//
//	go test -run '^$' -bench . -benchmem ./verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
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
	"github.com/tlseal/tlseal/verify"
)

// benchPKI is a root CA and a P-256 signer it issued.
type benchPKI struct {
	ca     *testpki.Cert
	signer *timeline.Signer
}

func newBenchPKI(b *testing.B) benchPKI {
	ca := testpki.CA(b, testpki.Options{})
	return benchPKI{ca: ca, signer: testpki.Signer(b, testpki.Leaf(b, ca, testpki.Options{}))}
}

func (p benchPKI) trust() *verify.Trust { return verify.NewTrust([]*x509.Certificate{p.ca.Cert}) }

// benchEventJSON returns event i as a JSON file of about 1.2 KiB, which is
// about 2 KiB once sealed with a P-256 signer.
func benchEventJSON(i int) []byte {
	ev := samples.EventJSON(i, time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC).Add(time.Duration(i)*time.Second), "rec-0001.wav")
	pad := max(0, 1200-len(ev)-len(",\n  \"notes\": \"\""))
	i0 := bytes.LastIndexByte(ev, '}')
	return []byte(strings.TrimRight(string(ev[:i0]), " \n") + ",\n  \"notes\": \"" + strings.Repeat("x", pad) + "\"\n}\n")
}

// writeSealed seals orig and writes it to path.
func (p benchPKI) writeSealed(b *testing.B, path string, orig []byte) {
	var out memfile.File
	if _, err := timeline.Seal(&out, bytes.NewReader(orig), int64(len(orig)), timeline.SealOptions{Name: filepath.Base(path), Signer: p.signer}); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
}

func mustPass(b *testing.B, res *verify.ItemResult, err error) {
	if err != nil {
		b.Fatal(err)
	}
	if res.Verdict != verify.Passed {
		b.Fatalf("%s: verdict %s, findings %+v", res.Path, res.Verdict, res.Findings)
	}
}

// BenchmarkVerifyFile is verify.File on one sealed file on disk: open, read,
// hash, parse the envelope, ECDSA signature, certificate chain.
//
//   - json-2KiB: a 2 KiB event, with the chain already built once for this
//     signer (as in a batch: the chain is cached per certificate);
//   - json-2KiB-cold: the same with a new trust policy each time, so the
//     chain is built for every file;
//   - riff-64MiB: a 64 MiB WAV (the per-byte cost: hashing).
func BenchmarkVerifyFile(b *testing.B) {
	pki := newBenchPKI(b)
	dir := b.TempDir()
	jsonPath := filepath.Join(dir, "event.json")
	pki.writeSealed(b, jsonPath, benchEventJSON(1))
	st, err := os.Stat(jsonPath)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("json-2KiB", func(b *testing.B) {
		trust := pki.trust()
		res, err := verify.File(jsonPath, trust)
		mustPass(b, res, err)
		b.SetBytes(st.Size())
		for b.Loop() {
			if _, err := verify.File(jsonPath, trust); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json-2KiB-cold", func(b *testing.B) {
		res, err := verify.File(jsonPath, pki.trust())
		mustPass(b, res, err)
		b.SetBytes(st.Size())
		for b.Loop() {
			if _, err := verify.File(jsonPath, pki.trust()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("riff-64MiB", func(b *testing.B) {
		const size = 64 << 20
		pcm := make([]byte, size-44)
		rand.NewChaCha8([32]byte{'t', 'l', 's', 'e', 'a', 'l'}).Read(pcm)
		wavPath := filepath.Join(dir, "rec.wav")
		pki.writeSealed(b, wavPath, samples.WAVFromPCM(48000, 2, 16, pcm))
		trust := pki.trust()
		res, err := verify.File(wavPath, trust)
		mustPass(b, res, err)
		b.SetBytes(size)
		for b.Loop() {
			if _, err := verify.File(wavPath, trust); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFiles is the parallel batch (verify.Files) over 1,000 sealed
// 2 KiB events, with one worker and with one per CPU; files/s is reported.
func BenchmarkFiles(b *testing.B) {
	const n = 1000
	pki := newBenchPKI(b)
	dir := b.TempDir()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("event-%05d.json", i))
		pki.writeSealed(b, paths[i], benchEventJSON(i))
	}
	for _, jobs := range []int{1, 0} {
		name := fmt.Sprintf("jobs=%d", jobs)
		if jobs == 0 {
			name = "jobs=GOMAXPROCS"
		}
		b.Run(name, func(b *testing.B) {
			trust := pki.trust()
			run := func() {
				err := verify.Files(context.Background(), paths, trust, jobs, func(o verify.Outcome) {
					if o.Err != nil || o.Result.Verdict != verify.Passed {
						b.Fatalf("%s: %v %+v", paths[o.Index], o.Err, o.Result)
					}
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			run()
			start := time.Now()
			iters := 0
			for b.Loop() {
				run()
				iters++
			}
			b.ReportMetric(float64(n*iters)/time.Since(start).Seconds(), "files/s")
		})
	}
}
