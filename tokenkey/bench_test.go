//go:build cgo

package tokenkey_test

import (
	"bytes"
	"crypto"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/softhsm"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/tokenkey"
)

// Sealing 2 KiB JSON events with a P-256 key in SoftHSM2 against the same
// with the key in memory (go test -bench SealJSON ./tokenkey): seals/s.
func BenchmarkSealJSON(b *testing.B) {
	ca := testpki.CA(b, testpki.Options{})
	mem := testpki.Leaf(b, ca, testpki.Options{})
	tk := softhsm.Shared(b)
	tk.GenerateKey(b, "bench", "be", "prime256v1")
	k, err := tokenkey.Open(tk.URI(b, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	tokenCert := testpki.IssueFor(b, ca, k.Signer.Public(), testpki.Options{})
	event := samples.EventJSON(1, time.Unix(0, 0), "r.wav")
	for _, c := range []struct {
		name string
		key  crypto.Signer
		cert *testpki.Cert
	}{{"memory", mem.Key, mem}, {"softhsm2", k.Signer, &testpki.Cert{Cert: tokenCert}}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := timeline.NewSigner(c.cert.Cert, nil, c.key)
			if err != nil {
				b.Fatal(err)
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var out memfile.File
					if _, err := timeline.Seal(&out, bytes.NewReader(event), int64(len(event)), timeline.SealOptions{Name: "e.json", Signer: s}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seals/s")
		})
	}
}
