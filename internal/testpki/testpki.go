// Package testpki makes certificate hierarchies for tests: a root CA, an
// optional intermediate, and signers with chosen curves, validity and key
// usage. It is test support only; production keys come from the
// certificate store.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/tlseal/tlseal/timeline"
)

// TB is the part of testing.TB this package needs (so that testscript
// commands can use it too).
type TB interface {
	Helper()
	Fatal(args ...any)
}

// Cert is a certificate with its key.
type Cert struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// PEM returns the certificate as PEM.
func (c *Cert) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM returns the private key as PKCS#8 PEM.
func (c *Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Options shape a certificate.
type Options struct {
	Curve     elliptic.Curve // default P-256
	NotBefore time.Time      // default now - 1h
	NotAfter  time.Time      // default now + 1 year
	KeyUsage  x509.KeyUsage  // default: CertSign for CAs, DigitalSignature otherwise
	CN        string
	// PathLenZero makes a CA that may issue only end-entity certificates.
	PathLenZero bool
	// Template, when set, edits the certificate template last (extended
	// key usages, a leaf with CA:TRUE, an intermediate without it, ...).
	Template func(*x509.Certificate)
}

func issue(t TB, parent *Cert, isCA bool, o Options) *Cert {
	t.Helper()
	if o.Curve == nil {
		o.Curve = elliptic.P256()
	}
	key, err := ecdsa.GenerateKey(o.Curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: create(t, parent, isCA, o, key.Public(), key), Key: key}
}

// IssueFor makes a signing certificate issued by parent for a public key
// whose private half is elsewhere (in a token).
func IssueFor(t TB, parent *Cert, pub crypto.PublicKey, o Options) *x509.Certificate {
	t.Helper()
	if o.CN == "" {
		o.CN = "Test Signer"
	}
	return create(t, parent, false, o, pub, nil)
}

// create issues the certificate of pub; self-signed by key when parent is
// nil.
func create(t TB, parent *Cert, isCA bool, o Options, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	if o.KeyUsage == 0 {
		o.KeyUsage = x509.KeyUsageDigitalSignature
		if isCA {
			o.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		}
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: o.CN, Organization: []string{"tlseal tests"}},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              o.KeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		MaxPathLenZero:        o.PathLenZero,
	}
	if o.Template != nil {
		o.Template(tmpl)
	}
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, pub, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Load reads a certificate and its key as Write wrote them.
func Load(t TB, certPath, keyPath string) *Cert {
	t.Helper()
	cb, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	cblock, _ := pem.Decode(cb)
	kblock, _ := pem.Decode(kb)
	if cblock == nil || kblock == nil {
		t.Fatal("testpki.Load: no PEM block")
	}
	cert, err := x509.ParseCertificate(cblock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(kblock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatal("testpki.Load: not an ECDSA key")
	}
	return &Cert{Cert: cert, Key: k}
}

// CA makes a self-signed root CA.
func CA(t TB, o Options) *Cert {
	if o.CN == "" {
		o.CN = "Test Root CA"
	}
	return issue(t, nil, true, o)
}

// Intermediate makes a CA issued by parent.
func Intermediate(t TB, parent *Cert, o Options) *Cert {
	if o.CN == "" {
		o.CN = "Test Intermediate CA"
	}
	return issue(t, parent, true, o)
}

// Leaf makes a signing certificate issued by parent.
func Leaf(t TB, parent *Cert, o Options) *Cert {
	if o.CN == "" {
		o.CN = "Test Signer"
	}
	return issue(t, parent, false, o)
}

// Signer makes a timeline.Signer for leaf with the given intermediates.
func Signer(t TB, leaf *Cert, intermediates ...*Cert) *timeline.Signer {
	t.Helper()
	var inter []*x509.Certificate
	for _, c := range intermediates {
		inter = append(inter, c.Cert)
	}
	s, err := timeline.NewSigner(leaf.Cert, inter, leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Write stores the certificate (name.pem) and key (name.key) in dir and
// returns their paths.
func (c *Cert) Write(t TB, dir, name string) (certPath, keyPath string) {
	t.Helper()
	certPath, keyPath = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certPath, c.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, c.KeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}
