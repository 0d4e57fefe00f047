package tsa

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fixed vectors of testdata (made once by testdata/gen.sh).
const (
	goldenGenTime = "2026-12-03T10:13:46.308Z"
	goldenNonce   = "f3e53918f2adef8f"
	goldenTSAName = "CN=tlseal test vector TSA,O=tlseal test vectors"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readTestdata(t, name))
	if block == nil {
		t.Fatalf("%s: no PEM", name)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func goldenRoots(t testing.TB) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(pemCert(t, "tsa-ca.pem"))
	return p
}

// TestGolden: the committed token verifies (at its genTime), reads as
// openssl wrote it, is the token of the committed response, and the
// committed throw-away key is the TSA certificate's.
func TestGolden(t *testing.T) {
	der, sig := readTestdata(t, "token.der"), readTestdata(t, "sig.der")
	tok, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(VerifyOptions{Data: sig, Roots: goldenRoots(t)}); err != nil {
		t.Fatal(err)
	}
	want, _ := time.Parse(time.RFC3339Nano, goldenGenTime)
	nonce, _ := new(big.Int).SetString(goldenNonce, 16)
	if !tok.GenTime.Equal(want) || tok.Nonce.Cmp(nonce) != 0 || tok.SerialNumber.Int64() != 2 ||
		tok.TSAName != goldenTSAName || !tok.Signer.Equal(pemCert(t, "tsa.pem")) {
		t.Errorf("genTime %v, nonce %x, serial %v, TSA %q, signer %s", tok.GenTime, tok.Nonce, tok.SerialNumber, tok.TSAName, tok.Signer.Subject)
	}
	// Roots of another TSA: intact but untrusted.
	err = tok.Verify(VerifyOptions{Data: sig, Roots: x509.NewCertPool()})
	wantReason(t, err, ReasonUntrusted)

	resp, err := ParseResponse(readTestdata(t, "response.der"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp.Raw, der) {
		t.Error("token.der is not the token of response.der")
	}

	block, _ := pem.Decode(readTestdata(t, "tsa-key.THROWAWAY-TEST-KEY.pem"))
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.(*ecdsa.PrivateKey).PublicKey.Equal(tok.Signer.PublicKey) {
		t.Error("the committed key is not the TSA certificate's")
	}

	if bin, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command(bin, "ts", "-verify", "-token_in", "-in", filepath.Join("testdata", "token.der"),
			"-data", filepath.Join("testdata", "sig.der"), "-CAfile", filepath.Join("testdata", "tsa-ca.pem")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Verification: OK") {
			t.Errorf("openssl ts -verify: %v\n%s", err, out)
		}
	}
}
