package timeline

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"

	"github.com/tlseal/tlseal/internal/p256verify"
)

// Alg names the signature algorithm of an envelope.
type Alg string

const (
	ES256 Alg = "ES256" // ECDSA P-256 with SHA-256
	ES384 Alg = "ES384" // ECDSA P-384 with SHA-384
	ES512 Alg = "ES512" // ECDSA P-521 with SHA-512
)

// Hash is the hash function of the algorithm.
func (a Alg) Hash() (crypto.Hash, error) {
	switch a {
	case ES256:
		return crypto.SHA256, nil
	case ES384:
		return crypto.SHA384, nil
	case ES512:
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("unknown alg %q (ES256, ES384 or ES512)", string(a))
}

// AlgFor returns the algorithm that goes with an ECDSA public key's curve.
func AlgFor(pub crypto.PublicKey) (Alg, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return "", fmt.Errorf("public key is %T, seal format v1 needs ECDSA (P-256, P-384, P-521)", pub)
	}
	switch k.Curve {
	case elliptic.P256():
		return ES256, nil
	case elliptic.P384():
		return ES384, nil
	case elliptic.P521():
		return ES512, nil
	}
	return "", fmt.Errorf("ECDSA curve %s is not supported (P-256, P-384, P-521)", k.Curve.Params().Name)
}

// Signer seals files: a certificate, the intermediates that lead to a trust
// anchor, and the private key of the certificate.
type Signer struct {
	Cert          *x509.Certificate
	Intermediates []*x509.Certificate
	Key           crypto.Signer
	// Deterministic makes signatures RFC 6979 deterministic (for golden
	// test vectors); otherwise they are randomized.
	Deterministic bool

	alg      Alg
	certPEM  string
	chainPEM string
}

// NewSigner checks that key belongs to cert and that the curve is one of
// seal format v1's.
func NewSigner(cert *x509.Certificate, intermediates []*x509.Certificate, key crypto.Signer) (*Signer, error) {
	if cert == nil || key == nil {
		return nil, errors.New("a signer needs a certificate and its private key")
	}
	alg, err := AlgFor(cert.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("signing certificate %q: %w", cert.Subject, err)
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("the private key does not belong to certificate %q", cert.Subject)
	}
	s := &Signer{Cert: cert, Intermediates: intermediates, Key: key, alg: alg}
	s.certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	var chain bytes.Buffer
	for _, c := range intermediates {
		pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	s.chainPEM = chain.String()
	return s, nil
}

// Alg is the algorithm this signer's seals use.
func (s *Signer) Alg() Alg { return s.alg }

// sign fills in alg, certPem, chainPem and sig.
func (s *Signer) sign(e *Envelope) error {
	e.Alg, e.CertPEM, e.ChainPEM = s.alg, s.certPEM, s.chainPEM
	h, _ := s.alg.Hash()
	hh := h.New()
	hh.Write(e.SigningInput())
	var random io.Reader = rand.Reader
	if s.Deterministic {
		random = nil
	}
	sig, err := s.Key.Sign(random, hh.Sum(nil), h)
	if err != nil {
		return newError(ReasonSign, err, "the signing key did not sign")
	}
	// Low-S only: (r, n−s) must not be a second valid seal.
	if sig, err = lowS(s.Cert.PublicKey.(*ecdsa.PublicKey), sig); err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	e.Sig = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// SignatureError says why an envelope's signature does not verify, with a
// reason that maps to a finding code.
type SignatureError struct {
	Reason SignatureReason
	Detail string
}

// SignatureReason is why a signature check failed.
type SignatureReason int

const (
	SigInvalid       SignatureReason = iota // the signature does not match (signature.invalid)
	SigEncoding                             // sig is not base64 of a DER ECDSA signature (signature.encoding)
	SigCertMalformed                        // certPem is not one X.509 certificate (cert.malformed)
	SigAlgMismatch                          // alg does not match the certificate's curve (cert.algMismatch)
)

// Finding codes of a signature check (docs/findings.md).
const (
	CodeSignatureInvalid  = "signature.invalid"
	CodeSignatureEncoding = "signature.encoding"
	CodeCertMalformed     = "cert.malformed"
	CodeCertAlgMismatch   = "cert.algMismatch"
)

// Code is the finding code of the reason: the one place where a signature
// failure becomes a code, for the archive check and the verifier alike.
func (r SignatureReason) Code() string {
	switch r {
	case SigEncoding:
		return CodeSignatureEncoding
	case SigCertMalformed:
		return CodeCertMalformed
	case SigAlgMismatch:
		return CodeCertAlgMismatch
	}
	return CodeSignatureInvalid
}

// SignatureCode is the finding code of an error from VerifySignature or
// VerifySignatureWith: its reason's code, or signature.invalid for any
// other error (a signature that was not shown valid is invalid); "" for
// nil, so that a check compared with a code cannot take a pass for it.
func SignatureCode(err error) string {
	if err == nil {
		return ""
	}
	var se *SignatureError
	if errors.As(err, &se) {
		return se.Reason.Code()
	}
	return CodeSignatureInvalid
}

func (e *SignatureError) Error() string { return e.Detail }

// ParseCertPEM parses exactly one PEM certificate.
func ParseCertPEM(s string) (*x509.Certificate, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// MaxChainCerts bounds chainPem: no real PKI puts more intermediates
// between a recorder and its root, and chain building on a hostile list
// grows with its length.
const MaxChainCerts = 8

// ParseChainPEM parses zero or more (at most MaxChainCerts) PEM
// certificates.
func ParseChainPEM(s string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(s)
	for len(bytes.TrimSpace(rest)) > 0 {
		if len(certs) == MaxChainCerts {
			return nil, fmt.Errorf("chainPem holds more than %d certificates", MaxChainCerts)
		}
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, errors.New("chainPem holds something other than PEM certificates")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// VerifySignature checks the envelope's signature with the public key of its
// certPem and returns that certificate. It says nothing of trust: whether
// the certificate is acceptable is the verify package's decision.
func VerifySignature(e *Envelope) (*x509.Certificate, error) {
	cert, err := ParseCertPEM(e.CertPEM)
	if err != nil {
		return nil, &SignatureError{SigCertMalformed, "certPem: " + err.Error()}
	}
	return cert, VerifySignatureWith(e, cert)
}

// VerifySignatureWith is VerifySignature with certPem already parsed (a
// verifier of many seals by one signer parses it once).
func VerifySignatureWith(e *Envelope, cert *x509.Certificate) error {
	_, err := VerifySignatureHighS(e, cert)
	return err
}

// VerifySignatureHighS is VerifySignatureWith that also says whether a
// signature that verifies is high-S (HighS), from the one decoding of sig
// (a verifier asks both of every seal).
func VerifySignatureHighS(e *Envelope, cert *x509.Certificate) (highS bool, err error) {
	want, err := AlgFor(cert.PublicKey)
	if err != nil {
		return false, &SignatureError{SigAlgMismatch, err.Error()}
	}
	if want != e.Alg {
		return false, &SignatureError{SigAlgMismatch, fmt.Sprintf("alg is %s, the certificate's key needs %s", e.Alg, want)}
	}
	sig, _, sv, err := decodeSig(e.Sig)
	if err != nil {
		return false, &SignatureError{SigEncoding, err.Error()}
	}
	// The signing input is built in a stack buffer (it fits for a usual
	// certificate) and hashed by the concrete function, so that nothing
	// but the signature itself is allocated.
	pub := cert.PublicKey.(*ecdsa.PublicKey)
	var buf [4096]byte
	if !p256verify.VerifyASN1(pub, digest(e.Alg, e.appendCanonical(buf[:0], false)), sig) {
		return false, &SignatureError{SigInvalid, "the signature does not verify with the certificate's key"}
	}
	highS = isHighS(pub, sv)
	// From version 2 on, the high-S twin of a signature is not a seal.
	if e.V >= 2 && highS {
		return false, &SignatureError{SigEncoding, fmt.Sprintf("the signature is high-S (s > n/2): version %d seals must be low-S", e.V)}
	}
	return highS, nil
}

// strictBase64 is made once: Strict returns a new copy of the encoding.
var strictBase64 = base64.StdEncoding.Strict()

// digest hashes msg with alg's hash (alg has been checked to be known).
func digest(alg Alg, msg []byte) []byte {
	switch alg {
	case ES384:
		d := sha512.Sum384(msg)
		return d[:]
	case ES512:
		d := sha512.Sum512(msg)
		return d[:]
	}
	d := sha256.Sum256(msg)
	return d[:]
}
