package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Issuer makes RFC 3161 time-stamp tokens itself: a minimal TSA for the
// demo's development PKI and for reproducible golden vectors (with a fixed
// key and time, and ECDSA's deterministic signatures, the same input gives
// the same token). It is no TSA to trust evidence to: its clock is the
// caller's. The tests of this package check its tokens with openssl ts
// -verify as well as with Verify.
type Issuer struct {
	// Cert is the TSA certificate (with the critical, sole timeStamping
	// extended key usage) and Key its private key: ECDSA, or RSA (PKCS #1
	// v1.5 signatures, as most public TSAs make).
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain are CA certificates embedded after Cert (may be empty).
	Chain []*x509.Certificate
	// Policy is the TSA policy OID (default 1.3.6.1.4.1.99999.1.1, a
	// private test arc).
	Policy asn1.ObjectIdentifier
	// Accuracy, when positive, is stated in whole seconds.
	Accuracy time.Duration
}

// DevPolicy is the policy of an Issuer without one.
var DevPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1}

// Issue makes the TimeStampToken (DER) over digest, a SHA-256, at genTime
// (kept to the second) with the serial number given; nonce may be nil.
// The signature is deterministic (RFC 6979 for ECDSA; PKCS #1 v1.5 is).
func (is *Issuer) Issue(digest []byte, genTime time.Time, serial, nonce *big.Int) ([]byte, error) {
	if is.Cert == nil || is.Key == nil {
		return nil, errors.New("tsa: the issuer needs a certificate and its key")
	}
	if pub, ok := is.Key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(is.Cert.PublicKey) {
		return nil, errors.New("tsa: the issuer's key does not belong to its certificate")
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("tsa: a digest of %d bytes is not a SHA-256", len(digest))
	}
	if serial == nil || serial.Sign() <= 0 {
		return nil, errors.New("tsa: the serial number must be positive")
	}
	policy := is.Policy
	if policy == nil {
		policy = DevPolicy
	}
	var sigAlg asn1.ObjectIdentifier
	h := crypto.SHA256
	switch k := is.Key.Public().(type) {
	case *ecdsa.PublicKey:
		sigAlg = oidECDSAWithSHA256
		switch k.Curve.Params().BitSize {
		case 384:
			sigAlg, h = oidECDSAWithSHA384, crypto.SHA384
		case 521:
			sigAlg, h = oidECDSAWithSHA512, crypto.SHA512
		}
	case *rsa.PublicKey:
		sigAlg = oidSHA256WithRSA
	default:
		return nil, fmt.Errorf("tsa: the issuer's key is a %T, not ECDSA or RSA", k)
	}
	sha256Alg := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidSHA256) })
	}

	// TSTInfo (RFC 3161 §2.4.2).
	var tb cryptobyte.Builder
	tb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1ObjectIdentifier(policy)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			sha256Alg(b)
			b.AddASN1OctetString(digest)
		})
		b.AddASN1BigInt(serial)
		b.AddASN1GeneralizedTime(genTime.UTC().Truncate(time.Second))
		if secs := int64(is.Accuracy / time.Second); secs > 0 {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64(secs) })
		}
		if nonce != nil {
			b.AddASN1BigInt(nonce)
		}
	})
	tstInfo, err := tb.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding the TSTInfo: %w", err)
	}

	// Signed attributes: content type, message digest, the ESS
	// signing-certificate-v2 naming the TSA certificate (RFC 5816). DER
	// orders a SET OF by the encodings of its elements.
	tstSum := sha256.Sum256(tstInfo)
	certSum := sha256.Sum256(is.Cert.Raw)
	attr := func(oid asn1.ObjectIdentifier, value func(b *cryptobyte.Builder)) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SET, value)
		})
		return b.BytesOrPanic()
	}
	attrs := [][]byte{
		attr(oidContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidTSTInfo) }),
		attr(oidMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(tstSum[:]) }),
		attr(oidSigningCertificateV2, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2, SHA-256 by default
						b.AddASN1OctetString(certSum[:])
					})
				})
			})
		}),
	}
	slices.SortFunc(attrs, bytes.Compare)
	attrsContent := bytes.Join(attrs, nil)
	// The signature is over the attributes as a SET (tag 0x31), though
	// they are stored with the [0] IMPLICIT tag.
	var sb cryptobyte.Builder
	sb.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrsContent) })
	signedInput := sb.BytesOrPanic()
	hh := h.New()
	hh.Write(signedInput)
	sig, err := is.Key.Sign(nil, hh.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("tsa: signing the token: %w", err)
	}

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(3)
				b.AddASN1(cbasn1.SET, sha256Alg)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // encapContentInfo
					b.AddASN1ObjectIdentifier(oidTSTInfo)
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(tstInfo)
					})
				})
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { // certificates
					certs := [][]byte{is.Cert.Raw}
					for _, c := range is.Chain {
						certs = append(certs, c.Raw)
					}
					slices.SortFunc(certs, bytes.Compare) // a DER SET OF
					for _, c := range certs {
						b.AddBytes(c)
					}
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { // signerInfos
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // issuerAndSerialNumber
							b.AddBytes(is.Cert.RawIssuer)
							b.AddASN1BigInt(is.Cert.SerialNumber)
						})
						sha256Alg(b)
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(attrsContent)
						})
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(sigAlg)
							if sigAlg.Equal(oidSHA256WithRSA) {
								b.AddASN1NULL()
							}
						})
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	return b.Bytes()
}
