package testtsa

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"testing"
	"time"
)

// TestCertificates: the TSA certificates have the usages, keys and
// validity the options ask for, checked with Go's x509 (not with the tsa
// package the helper serves).
func TestCertificates(t *testing.T) {
	oidEKU := asn1.ObjectIdentifier{2, 5, 29, 37}
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		opts     Options
		eku      []x509.ExtKeyUsage
		critical bool
	}{
		{"critical", Options{}, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, true},
		{"non-critical", Options{EKU: EKUNonCritical}, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, false},
		{"none", Options{EKU: EKUNone}, nil, false},
		{"extra", Options{EKU: EKUExtra}, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping, x509.ExtKeyUsageCodeSigning}, true},
		{"rsa, expired", Options{RSA: true, NotBefore: past, NotAfter: past.AddDate(1, 0, 0)}, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Start(t, tc.opts)
			c := a.Cert()
			var critical, present bool
			for _, e := range c.Extensions {
				if e.Id.Equal(oidEKU) {
					present, critical = true, e.Critical
				}
			}
			if present != (tc.eku != nil) || critical != tc.critical || len(c.ExtKeyUsage) != len(tc.eku) {
				t.Errorf("EKU %v (present %v, critical %v)", c.ExtKeyUsage, present, critical)
			}
			for i := range tc.eku {
				if c.ExtKeyUsage[i] != tc.eku[i] {
					t.Errorf("EKU %v, want %v", c.ExtKeyUsage, tc.eku)
				}
			}
			if _, ok := c.PublicKey.(*rsa.PublicKey); ok != tc.opts.RSA {
				t.Errorf("key %T", c.PublicKey)
			}
			if _, ok := a.Key().Public().(*ecdsa.PublicKey); ok == tc.opts.RSA {
				t.Errorf("private key %T", a.Key())
			}
			if !tc.opts.NotBefore.IsZero() && !c.NotBefore.Equal(tc.opts.NotBefore) {
				t.Errorf("NotBefore %v", c.NotBefore)
			}
			if err := c.CheckSignatureFrom(a.CACert()); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestOpenSSLAccepts: a good TSA's tokens pass openssl ts -verify, a
// token over other data does not.
func TestOpenSSLAccepts(t *testing.T) {
	a := Start(t, Options{})
	tok := a.Token(t, []byte("data"), "sha256")
	if ok, out := a.OpenSSLVerify(t, tok, []byte("data")); !ok {
		t.Fatalf("openssl refuses the token:\n%s", out)
	}
	if ok, _ := a.OpenSSLVerify(t, tok, []byte("other")); ok {
		t.Fatal("openssl accepts the token for other data")
	}
}
