//go:build unix

package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/internal/testtsa"
	"github.com/tlseal/tlseal/tsa"
	"github.com/tlseal/tlseal/verify"
)

// TestTimestampCost measures what trusted time costs an audit (issue 12):
// the same archive of N small JSON events audited without tokens, with
// checkpoint tokens only (from a real TSA, openssl ts -reply on loopback),
// and with a token in every seal (made in process by tsa.Issuer, ECDSA
// P-256 and RSA-2048 TSAs: N requests to openssl would take minutes). The
// TSAs embed their own certificate in each token, as `openssl ts -reply`
// does without -chain; one more RSA archive has tokens that embed the
// TSA's CA as well, which makes each seal 0.7 KiB larger.
// Skipped unless TLSEAL_BENCH_TSA=1; N from TLSEAL_BENCH_TSA_N (10000).
//
//	TLSEAL_BENCH_TSA=1 go test ./verify -run TestTimestampCost -v
func TestTimestampCost(t *testing.T) {
	if os.Getenv("TLSEAL_BENCH_TSA") != "1" {
		t.Skip("set TLSEAL_BENCH_TSA=1 to measure the cost of timestamp tokens in an audit")
	}
	n := 10000
	if s := os.Getenv("TLSEAL_BENCH_TSA_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ca := testpki.CA(t, testpki.Options{})
	signer := testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{}))
	real := testtsa.Start(t, testtsa.Options{})
	ecIssuer, ecCA := costIssuer(t, false)
	rsaIssuer, rsaCA := costIssuer(t, true)
	rsaChainIssuer := *rsaIssuer
	rsaChainIssuer.Chain = []*x509.Certificate{rsaCA}
	src := t.TempDir()
	for i := range n {
		os.WriteFile(filepath.Join(src, fmt.Sprintf("e%05d.json", i)), samples.EventJSON(i, time.Now(), "rec.wav"), 0o644)
	}
	build := func(name string, opts archive.Options) string {
		dir := filepath.Join(t.TempDir(), name)
		opts.Signer, opts.Logger, opts.CheckpointInterval = signer, quiet, -1
		w, err := archive.Create(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			p := filepath.Join(src, fmt.Sprintf("e%05d.json", i))
			if _, err := w.Ingest(p, filepath.Base(p)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	perSeal := func(is *tsa.Issuer) func(sig []byte) ([]byte, error) {
		serial := int64(0)
		return func(sig []byte) ([]byte, error) {
			serial++
			sum := sha256.Sum256(sig)
			return is.Issue(sum[:], time.Now().Add(time.Second), big.NewInt(serial), nil)
		}
	}
	start := time.Now()
	plain := build("plain", archive.Options{})
	checkpoints := build("checkpoints", archive.Options{Timestamper: stamperOf(real.URL)})
	ecSeals := build("seal-tokens-p256", archive.Options{SealTimestamp: perSeal(ecIssuer)})
	rsaSeals := build("seal-tokens-rsa", archive.Options{SealTimestamp: perSeal(rsaIssuer)})
	rsaChainSeals := build("seal-tokens-rsa-chain", archive.Options{SealTimestamp: perSeal(&rsaChainIssuer)})
	t.Logf("5 archives of %d entries built in %v (%d checkpoint tokens from openssl)", n, time.Since(start).Round(time.Millisecond), real.Requests())

	trust := verify.NewTrust([]*x509.Certificate{ca.Cert})
	trust.TSAAnchors = []*x509.Certificate{real.CACert(), ecCA, rsaCA}
	// The archives are audited in turns, 7 rounds, each one's best time
	// kept: load from other work then weighs on all alike.
	type arch struct {
		dir, source string
		best, cpu   time.Duration // wall, and CPU (user + system) of the best-CPU round
	}
	archs := []*arch{{dir: plain}, {dir: checkpoints, source: fmt.Sprintf("checkpoint %d", n)},
		{dir: ecSeals, source: verify.SourceSealToken}, {dir: rsaSeals, source: verify.SourceSealToken}, {dir: rsaChainSeals, source: verify.SourceSealToken}}
	for range 7 {
		for _, a := range archs {
			runtime.GC()
			c0 := cpuTime()
			t0 := time.Now()
			res, err := verify.Archive(context.Background(), a.dir, trust, verify.ArchiveOptions{})
			d := time.Since(t0)
			if c := cpuTime() - c0; a.cpu == 0 || c < a.cpu {
				a.cpu = c
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != verify.Passed || res.Counts.Passed != n {
				t.Fatalf("%s: %s, %+v, findings %v", a.dir, res.Verdict, res.Counts, res.Findings)
			}
			if it := res.Items[n-1]; it.TrustedTimeSource != a.source {
				t.Fatalf("%s: trusted time source %q", a.dir, it.TrustedTimeSource)
			}
			if a.best == 0 || d < a.best {
				a.best = d
			}
		}
	}
	base, cp, ec, rs, rsc := archs[0].best, archs[1].best, archs[2].best, archs[3].best, archs[4].best
	cpu := func(a *arch) string {
		return fmt.Sprintf("%v (%.2f)", a.cpu.Round(time.Millisecond), float64(a.cpu)/float64(archs[0].cpu))
	}
	t.Logf("CPU time (user + system, least of the rounds): no tokens %v, checkpoint tokens %s, P-256 tokens %s, RSA-2048 tokens %s, RSA-2048 tokens with the CA %s",
		archs[0].cpu.Round(time.Millisecond), cpu(archs[1]), cpu(archs[2]), cpu(archs[3]), cpu(archs[4]))
	t.Logf("audit of %d entries (best of 7 rounds, %d CPUs):", n, runtime.GOMAXPROCS(0))
	t.Logf("| archive | audit | vs no tokens | target |")
	t.Logf("| no tokens | %v | 1.00 | — |", base.Round(time.Millisecond))
	t.Logf("| checkpoint tokens (%d, openssl TSA) | %v | %.2f | ≤ 1.05 |", n/1000+1, cp.Round(time.Millisecond), float64(cp)/float64(base))
	t.Logf("| a token in every seal, P-256 TSA | %v | %.2f | ≤ 1.5 |", ec.Round(time.Millisecond), float64(ec)/float64(base))
	t.Logf("| a token in every seal, RSA-2048 TSA | %v | %.2f | ≤ 1.5 |", rs.Round(time.Millisecond), float64(rs)/float64(base))
	t.Logf("| a token in every seal, RSA-2048 TSA, its CA embedded too | %v | %.2f | ≤ 1.5 |", rsc.Round(time.Millisecond), float64(rsc)/float64(base))
}

// costIssuer is a TSA (CA and certificate with the critical sole
// timeStamping EKU) with an ECDSA P-256 or RSA-2048 key, embedding only
// its own certificate in its tokens.
func costIssuer(t *testing.T, useRSA bool) (*tsa.Issuer, *x509.Certificate) {
	var caKey, key crypto.Signer
	if useRSA {
		k1, _ := rsa.GenerateKey(rand.Reader, 2048)
		k2, _ := rsa.GenerateKey(rand.Reader, 2048)
		caKey, key = k1, k2
	} else {
		k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		caKey, key = k1, k2
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cost TSA CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "cost TSA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &tsa.Issuer{Cert: cert, Key: key, Accuracy: time.Second}, caCert
}

// cpuTime is the process's CPU time so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
