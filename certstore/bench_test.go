package certstore

import (
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

// BenchmarkOpen1000 opens a store of 1,000 elements (each a P-256
// certificate with its key, all checked on open) at the default iteration
// count, next to the key derivation alone: the difference is the cost of
// everything but the KDF.
func BenchmarkOpen1000(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.ecs")
	s := &Store{path: path, id: newStoreID(), version: FormatVersion, iterations: DefaultIterations}
	ca, caKey := newCert(b, "bench CA", elliptic.P256(), true, nil, nil)
	for i := range 1000 {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: fmt.Sprint("element ", i)},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			b.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		if err := s.Add(Element{ID: fmt.Sprint("e", i), Tags: []string{"bench"}, Cert: cert, Key: key}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.write(path, testPassword); err != nil {
		b.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	h, err := parseHeader(path, data)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("kdf", func(b *testing.B) {
		for b.Loop() {
			if _, err := deriveKeys(testPassword, h.salt, h.iterations); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			s, err := Open(path, testPassword)
			if err != nil || s.Len() != 1000 {
				b.Fatal(err)
			}
		}
	})
	b.Run("open-without-kdf", func(b *testing.B) {
		// The same work as open, minus the key derivation and the file
		// read: check, decrypt, parse and validate 1,000 elements.
		k, err := deriveKeys(testPassword, h.salt, h.iterations)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			h, err := parseHeader(path, data)
			if err != nil {
				b.Fatal(err)
			}
			content, err := decryptWithKeys(path, data, h, k)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := decodeContent(path, content); err != nil {
				b.Fatal(err)
			}
		}
	})
}
