package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
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

// newTestTSA makes a TSA: a CA with caKey valid for caLife around now,
// and a TSA certificate for key with the critical sole timeStamping EKU
// valid for life around now.
func newTestTSA(t *testing.T, caKey, key crypto.Signer, caLife, life time.Duration) (*Issuer, *x509.CertPool) {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test TSA CA"}, NotBefore: now.Add(-caLife), NotAfter: now.Add(caLife),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test TSA"}, NotBefore: now.Add(-life), NotAfter: now.Add(life),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return &Issuer{Cert: cert, Key: key, Chain: []*x509.Certificate{ca}}, roots
}

// An RSA issuer (PKCS #1 v1.5, as most public TSAs) makes tokens that verify.
func TestIssuerRSA(t *testing.T) {
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	is, roots := newTestTSA(t, caKey, key, time.Hour, time.Hour)
	data := []byte("stamped")
	sum := sha256.Sum256(data)
	tokDER, err := is.Issue(sum[:], time.Now(), big.NewInt(9), nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Parse(tokDER)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(VerifyOptions{Data: data, Roots: roots}); err != nil {
		t.Fatal(err)
	}
}

// A chain remembered for one token is not taken for another whose genTime
// lies outside a certificate of that chain: the full check runs and fails.
func TestChainCacheValidity(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// The TSA certificate outlives its CA by an hour.
	is, roots := newTestTSA(t, caKey, key, time.Hour, 2*time.Hour)
	var cache ChainCache
	sum := sha256.Sum256([]byte("x"))
	check := func(at time.Time) error {
		der, err := is.Issue(sum[:], at, big.NewInt(1), nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := Parse(der)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Verify(VerifyOptions{Digest: sum[:], Roots: roots, Chains: &cache})
	}
	for range 2 { // the second time from the cache
		if err := check(now); err != nil {
			t.Fatal(err)
		}
	}
	if err := check(now.Add(90 * time.Minute)); ReasonOf(err) != ReasonTimeOutsideValidity {
		t.Errorf("a genTime after the CA expired, with its chain cached: %v", err)
	}
}
