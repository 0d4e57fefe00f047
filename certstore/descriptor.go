package certstore

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/tlseal/tlseal/tokenkey"
)

// Descriptor describes a store (the "descriptor" verb). It never contains
// private key material.
type Descriptor struct {
	ID           string              `json:"id"`
	FileName     string              `json:"fileName"`
	Version      int                 `json:"version"`
	Flags        int                 `json:"flags"`
	Certificates []ElementDescriptor `json:"certificates"`
}

// ElementDescriptor describes one element within a Descriptor.
type ElementDescriptor struct {
	ID             string   `json:"id"`
	HasPrivateKey  bool     `json:"hasPrivateKey"`
	KeyRef         string   `json:"keyRef,omitempty"` // a key kept outside the store (pin-value redacted)
	Contents       string   `json:"contents"`         // "CERTIFICATE", "CERTIFICATE + KEY", "CERTIFICATE + TOKEN KEY", "CERTIFICATE + EXTERNAL KEY"
	Tags           []string `json:"tags"`
	CertificatePEM string   `json:"certificatePem"`
}

// CertificateDescriptor describes one element in detail (the "show" verb).
type CertificateDescriptor struct {
	ID                 string   `json:"id"`
	HasPrivateKey      bool     `json:"hasPrivateKey"`
	KeyRef             string   `json:"keyRef,omitempty"`
	Tags               []string `json:"tags"`
	Subject            string   `json:"subject"`
	Issuer             string   `json:"issuer"`
	SerialNumber       string   `json:"serialNumber"` // lowercase hex
	NotBefore          string   `json:"notBefore"`    // RFC 3339, UTC
	NotAfter           string   `json:"notAfter"`
	PublicKey          string   `json:"publicKey"` // e.g. "ECDSA P-256"
	SignatureAlgorithm string   `json:"signatureAlgorithm"`
	IsCA               bool     `json:"isCA"`
	SelfSigned         bool     `json:"selfSigned"`
	KeyUsage           []string `json:"keyUsage"`
	ExtKeyUsage        []string `json:"extKeyUsage"`
	SHA256             string   `json:"sha256"` // fingerprint of the DER certificate
	CertificatePEM     string   `json:"certificatePem"`
}

// Descriptor returns the store's descriptor.
func (s *Store) Descriptor() Descriptor {
	d := Descriptor{ID: s.id, FileName: s.path, Version: s.version, Flags: s.flags, Certificates: []ElementDescriptor{}}
	for _, e := range s.elements {
		d.Certificates = append(d.Certificates, ElementDescriptor{
			ID: e.ID, HasPrivateKey: e.Key != nil, KeyRef: redactRef(e.KeyRef), Contents: e.Contents(), Tags: e.clone().Tags, CertificatePEM: string(e.CertPEM),
		})
	}
	return d
}

// Describe returns the detailed descriptor of an element.
func (e Element) Describe() CertificateDescriptor {
	c := e.Cert
	sum := sha256.Sum256(c.Raw)
	return CertificateDescriptor{
		ID:                 e.ID,
		HasPrivateKey:      e.Key != nil,
		KeyRef:             redactRef(e.KeyRef),
		Tags:               e.clone().Tags,
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		SerialNumber:       c.SerialNumber.Text(16),
		NotBefore:          c.NotBefore.UTC().Format(time.RFC3339),
		NotAfter:           c.NotAfter.UTC().Format(time.RFC3339),
		PublicKey:          PublicKeyName(c.PublicKey),
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		IsCA:               c.IsCA,
		SelfSigned:         isSelfSigned(c),
		KeyUsage:           keyUsageNames(c.KeyUsage),
		ExtKeyUsage:        extKeyUsageNames(c.ExtKeyUsage),
		SHA256:             hex.EncodeToString(sum[:]),
		CertificatePEM:     string(e.CertPEM),
	}
}

// PublicKeyName names a public key's algorithm and size, e.g. "ECDSA P-384".
func PublicKeyName(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

func keyUsageNames(u x509.KeyUsage) []string {
	names := []string{"digitalSignature", "contentCommitment", "keyEncipherment", "dataEncipherment",
		"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	out := []string{}
	for i, n := range names {
		if u&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func extKeyUsageNames(us []x509.ExtKeyUsage) []string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageAny:             "any",
		x509.ExtKeyUsageServerAuth:      "serverAuth",
		x509.ExtKeyUsageClientAuth:      "clientAuth",
		x509.ExtKeyUsageCodeSigning:     "codeSigning",
		x509.ExtKeyUsageEmailProtection: "emailProtection",
		x509.ExtKeyUsageTimeStamping:    "timeStamping",
		x509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
	}
	out := []string{}
	for _, u := range us {
		if n, ok := names[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("ext%d", int(u)))
		}
	}
	return out
}

func redactRef(ref string) string {
	if ref == "" {
		return ""
	}
	return tokenkey.Redact(ref)
}

// Contents says what the element holds: "CERTIFICATE", with "+ KEY" (the
// store holds it), "+ TOKEN KEY" (a PKCS#11 reference) or "+ EXTERNAL KEY"
// (exec:).
func (e Element) Contents() string {
	switch {
	case e.Key != nil:
		return "CERTIFICATE + KEY"
	case tokenkey.IsURI(e.KeyRef):
		return "CERTIFICATE + TOKEN KEY"
	case tokenkey.IsExec(e.KeyRef):
		return "CERTIFICATE + EXTERNAL KEY"
	}
	return "CERTIFICATE"
}
