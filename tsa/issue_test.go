package tsa

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// goldenIssuer is the fixed test TSA of testdata as an Issuer.
func goldenIssuer(t testing.TB) *Issuer {
	t.Helper()
	blk, _ := pem.Decode(readTestdata(t, "tsa-key.THROWAWAY-TEST-KEY.pem"))
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &Issuer{Cert: pemCert(t, "tsa.pem"), Key: k.(*ecdsa.PrivateKey), Chain: []*x509.Certificate{pemCert(t, "tsa-ca.pem")}, Accuracy: time.Second}
}

// Tokens of the Issuer verify here and with openssl, and are reproducible.
func TestIssuer(t *testing.T) {
	is := goldenIssuer(t)
	sig := readTestdata(t, "sig.der")
	sum := sha256.Sum256(sig)
	at := time.Date(2026, 11, 27, 10, 0, 1, 0, time.UTC)
	der, err := is.Issue(sum[:], at, big.NewInt(42), big.NewInt(7))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := is.Issue(sum[:], at, big.NewInt(42), big.NewInt(7))
	if !bytes.Equal(der, again) {
		t.Error("the same input gave two tokens")
	}
	tok, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(VerifyOptions{Data: sig, Roots: goldenRoots(t)}); err != nil {
		t.Fatal(err)
	}
	if !tok.GenTime.Equal(at) || tok.Accuracy != time.Second || tok.SerialNumber.Int64() != 42 || tok.Nonce.Int64() != 7 || !tok.Policy.Equal(DevPolicy) {
		t.Errorf("token %+v", tok)
	}
	if err := tok.Verify(VerifyOptions{Data: append(sig, 0), Roots: goldenRoots(t)}); ReasonOf(err) != ReasonImprintMismatch {
		t.Errorf("another imprint: %v", err)
	}
	if bin, err := exec.LookPath("openssl"); err == nil {
		p := filepath.Join(t.TempDir(), "token.der")
		os.WriteFile(p, der, 0o644)
		out, err := exec.Command(bin, "ts", "-verify", "-token_in", "-in", p, "-data", filepath.Join("testdata", "sig.der"),
			"-CAfile", filepath.Join("testdata", "tsa-ca.pem")).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("Verification: OK")) {
			t.Errorf("openssl ts -verify: %v\n%s", err, out)
		}
	} else {
		t.Log("openssl not found: the token was not checked by openssl")
	}
	// A key that is not the certificate's is refused.
	other := goldenIssuer(t)
	other.Cert = pemCert(t, "tsa-ca.pem")
	if _, err := other.Issue(sum[:], at, big.NewInt(1), nil); err == nil {
		t.Error("an issuer whose key is not its certificate's made a token")
	}
	if _, err := is.Issue(sum[:4], at, big.NewInt(1), nil); err == nil {
		t.Error("a short digest was stamped")
	}
}
