package certstore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testIter keeps key derivation cheap in tests.
const testIter = MinIterations

var testPassword = []byte{0x00, 0x01, 0xfe, 0xff, 's', 'e', 'c', 'r', 'e', 't'}

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

// newTestStore creates an empty low-iteration store in a temporary directory.
func newTestStore(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.ecs")
	if _, err := Create(path, testPassword, CreateOptions{Iterations: testIter}); err != nil {
		t.Fatal(err)
	}
	return path
}

// newCert makes a certificate for a fresh key on curve, signed by parent
// (self-signed if parent is nil).
func newCert(t testing.TB, cn string, curve elliptic.Curve, isCA bool, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func mustAdd(t testing.TB, path string, es ...Element) {
	t.Helper()
	err := Update(path, testPassword, func(s *Store) error {
		for _, e := range es {
			if err := s.Add(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func wantReason(t testing.TB, err error, want Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	if got := ReasonOf(err); got != want {
		t.Fatalf("error %q has reason %v, want %v", err, got, want)
	}
}

// The helper process (see concurrent_test.go) is this test binary run
// with helperEnv set.
const helperEnv = "TLSEAL_CERTSTORE_TEST_HELPER"

func helperMain(mode string) int {
	var path, prefix, start string
	var n int
	if _, err := fmt.Sscanf(mode, "add %s %s %d %s", &path, &prefix, &n, &start); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 3
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(start); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "helper: start signal never came")
			return 3
		}
	}
	for i := range n {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return 3
		}
		tmpl := &x509.Certificate{SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: prefix},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return 3
		}
		cert, _ := x509.ParseCertificate(der)
		id := fmt.Sprintf("%s-%d", prefix, i)
		err = Update(path, testPassword, func(s *Store) error {
			return s.Add(Element{ID: id, Cert: cert, Key: key})
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
	}
	return 0
}

// sigCheck signs a message with key and verifies it with cert.
func sigCheck(t testing.TB, cert *x509.Certificate, key crypto.Signer) {
	t.Helper()
	msg := []byte("timeline evidence")
	alg := map[string]x509.SignatureAlgorithm{"P-256": x509.ECDSAWithSHA256, "P-384": x509.ECDSAWithSHA384, "P-521": x509.ECDSAWithSHA512}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("%T key", key.Public())
	}
	a := alg[pub.Curve.Params().Name]
	h := map[x509.SignatureAlgorithm]crypto.Hash{x509.ECDSAWithSHA256: crypto.SHA256, x509.ECDSAWithSHA384: crypto.SHA384, x509.ECDSAWithSHA512: crypto.SHA512}[a]
	d := h.New()
	d.Write(msg)
	sig, err := key.Sign(rand.Reader, d.Sum(nil), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignature(a, msg, sig); err != nil {
		t.Fatalf("signature does not verify with the certificate: %v", err)
	}
}
