package certstore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseRef: a reference is exactly RefPrefix followed by the ID, and
// Ref inverts ParseRef.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"", RefPrefix, RefPrefix + "signer", "signer.pem", "@certstore:/x", "@CERTSTORE://x", RefPrefix + "a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := ParseRef(s)
		if ok != strings.HasPrefix(s, RefPrefix) {
			t.Fatalf("ParseRef(%q) ok=%v", s, ok)
		}
		if ok && Ref(id) != s {
			t.Fatalf("Ref(ParseRef(%q)) = %q", s, Ref(id))
		}
		if !ok && id != "" {
			t.Fatalf("not a reference, but id %q", id)
		}
		if ok && ValidID(id) && strings.ContainsAny(id, "/\\") {
			t.Fatalf("ValidID accepts a path-like ID %q", id)
		}
	})
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// FuzzParseCertificates: never a crash; every certificate accepted is
// returned as parsed from its own bytes, in order, and survives a PEM round
// trip.
func FuzzParseCertificates(f *testing.F) {
	ca, caKey := newCert(f, "CA", elliptic.P256(), true, nil, nil)
	leaf, _ := newCert(f, "leaf", elliptic.P384(), false, ca, caKey)
	chain := append(pemOf("CERTIFICATE", leaf.Raw), pemOf("CERTIFICATE", ca.Raw)...)
	for _, seed := range [][]byte{chain, leaf.Raw, pemOf("CERTIFICATE", ca.Raw)[:100], nil,
		append(pemOf("EC PRIVATE KEY", []byte{1, 2}), pemOf("CERTIFICATE", ca.Raw)...), []byte("-----BEGIN CERTIFICATE-----\n")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if err != nil {
			if certs != nil {
				t.Fatalf("an error and %d certificates", len(certs))
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
		var again []byte
		for _, c := range certs {
			again = append(again, pemOf("CERTIFICATE", c.Raw)...)
		}
		back, err := ParseCertificates(again)
		if err != nil || len(back) != len(certs) {
			t.Fatalf("PEM round trip: %v (%d of %d)", err, len(back), len(certs))
		}
		for i := range certs {
			if !certs[i].Equal(back[i]) {
				t.Fatalf("certificate %d changed in a round trip", i+1)
			}
		}
	})
}

// FuzzParsePrivateKey: never a crash; ok=false only with an error; an
// accepted key can sign and survives a PKCS#8 round trip.
func FuzzParsePrivateKey(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	p8, _ := x509.MarshalPKCS8PrivateKey(ec)
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	cert, _ := newCert(f, "c", elliptic.P256(), false, nil, nil)
	for _, seed := range [][]byte{pemOf("EC PRIVATE KEY", sec1), pemOf("PRIVATE KEY", p8), pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)),
		append(pemOf("CERTIFICATE", cert.Raw), pemOf("PRIVATE KEY", p8)...), append(pemOf("PRIVATE KEY", p8), pemOf("EC PRIVATE KEY", sec1)...),
		pemOf("ENCRYPTED PRIVATE KEY", []byte{1}), pemOf("EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}), nil} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		key, ok, err := ParsePrivateKey(data)
		if err != nil {
			if key != nil {
				t.Fatal("an error and a key")
			}
			if !ok && bytes.Contains(data, []byte("PRIVATE KEY-----")) && pemHasKeyBlock(data) {
				t.Fatalf("a private key block, but ok=false: %v", err)
			}
			return
		}
		if !ok || key == nil || key.Public() == nil {
			t.Fatalf("accepted, but ok=%v key=%v", ok, key)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatalf("an accepted key does not marshal: %v", err)
		}
		back, _, err := ParsePrivateKey(pemOf("PRIVATE KEY", der))
		if err != nil {
			t.Fatalf("PKCS#8 round trip: %v", err)
		}
		if !reflect.DeepEqual(back.Public(), key.Public()) {
			t.Fatal("the key changed in a round trip")
		}
	})
}

// pemHasKeyBlock reports whether data decodes to a PEM block of a private
// key type ParsePrivateKey knows.
func pemHasKeyBlock(data []byte) bool {
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return false
		}
		switch b.Type {
		case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return true
		}
	}
}

// FuzzLoadConfig: the --config loader never crashes; relative paths come
// back anchored at the file's directory, references untouched, and what
// it accepts loads again to the same configuration.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(`{"certStoreFileName":"store.ecs","security":{"certificate":"@certstore://signer","key":"k.pem"},"caCertificates":["ca.pem","/abs/ca.pem"]}`))
	f.Add([]byte(`{"certStorePasswordHex":"00ff"}`))
	f.Add([]byte(`{"certStorePasswordHex":"zz"}`))
	f.Add([]byte(`{"watch":{"sources":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "tlseal.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(p)
		if err != nil {
			return
		}
		for _, s := range append([]string{c.CertStoreFileName, c.Security.Certificate, c.Security.Key}, c.CACertificates...) {
			if _, ref := ParseRef(s); s != "" && !ref && !filepath.IsAbs(s) {
				t.Fatalf("path %q not anchored", s)
			}
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c2, err := LoadConfig(p)
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("reload differs:\n%+v\n%+v", c, c2)
		}
	})
}
