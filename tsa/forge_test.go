package tsa

// Hand-built tokens: made here with Go's crypto (NOT by openssl), with the
// real test TSA's key and certificates, for the token shapes openssl does
// not make (a subject-key-identifier signer, the TSA certificate not first,
// wrong signed attributes, genTime chosen by the test, ...).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/tlseal/tlseal/internal/testtsa"
)

// forgery describes a hand-built token; build fills the defaults: a good
// RFC 3161 token by the TSA over digest.
type forgery struct {
	// TSTInfo
	hashOID  asn1.ObjectIdentifier // default SHA-256
	digest   []byte
	genTime  string // default now, YYYYMMDDhhmmssZ
	accuracy []byte // a DER Accuracy, default none
	ordering []byte // a DER BOOLEAN, default none
	ext      []byte // a DER Extension, default none
	// SignedData
	version      int64                 // default 3
	eContentType asn1.ObjectIdentifier // default id-ct-TSTInfo
	certs        []*x509.Certificate   // default the TSA's, then the CA's
	signers      int                   // default 1
	// SignerInfo
	sidSKI        bool
	digestHash    crypto.Hash           // default SHA-256
	sigAlg        asn1.ObjectIdentifier // default ecdsa-with-SHA256
	contentType   asn1.ObjectIdentifier // default id-ct-TSTInfo
	noContentType bool
	noDigest      bool
	messageDigest []byte            // default the TSTInfo's
	secondDigest  []byte            // if set, a second message-digest attribute holding it
	essV2         *x509.Certificate // the certificate an ESSCertIDv2 names, default the TSA's
	essV1         *x509.Certificate // if set, an ESSCertID naming it
	essSerial     *big.Int          // if set, an issuerSerial with it in the ESSCertIDv2
	noESS         bool
	key           crypto.Signer // default the TSA's
}

func (f forgery) build(t testing.TB, a *testtsa.TSA) []byte {
	t.Helper()
	cert := a.Cert()
	if f.hashOID == nil {
		f.hashOID = oidSHA256
	}
	if f.genTime == "" {
		f.genTime = time.Now().UTC().Format("20060102150405Z")
	}
	if f.version == 0 {
		f.version = 3
	}
	if f.eContentType == nil {
		f.eContentType = oidTSTInfo
	}
	if f.certs == nil {
		f.certs = []*x509.Certificate{cert, a.CACert()}
	}
	if f.signers == 0 {
		f.signers = 1
	}
	if f.digestHash == 0 {
		f.digestHash = crypto.SHA256
	}
	if f.sigAlg == nil {
		f.sigAlg = oidECDSAWithSHA256
	}
	if f.contentType == nil {
		f.contentType = oidTSTInfo
	}
	if f.essV2 == nil {
		f.essV2 = cert
	}
	if f.key == nil {
		f.key = a.Key()
	}

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(f.hashOID) })
			b.AddASN1OctetString(f.digest)
		})
		b.AddASN1BigInt(big.NewInt(42))
		b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) { b.AddBytes([]byte(f.genTime)) })
		b.AddBytes(f.accuracy)
		b.AddBytes(f.ordering)
		b.AddASN1BigInt(big.NewInt(7)) // nonce
		if f.ext != nil {
			b.AddASN1(tagC1, func(b *cryptobyte.Builder) { b.AddBytes(f.ext) })
		}
	})
	tst := b.BytesOrPanic()

	h := f.digestHash.New()
	h.Write(tst)
	md := h.Sum(nil)
	if f.messageDigest != nil {
		md = f.messageDigest
	}
	attr := func(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, value func(*cryptobyte.Builder)) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SET, value)
		})
	}
	var ab cryptobyte.Builder
	ab.AddASN1(tagC0, func(b *cryptobyte.Builder) {
		// DER orders a SET OF by encoding; the signature does not care.
		if !f.noContentType {
			attr(b, oidContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(f.contentType) })
		}
		if !f.noDigest {
			attr(b, oidMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(md) })
		}
		if f.secondDigest != nil {
			attr(b, oidMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(f.secondDigest) })
		}
		if f.essV1 != nil {
			sum := sha1.Sum(f.essV1.Raw)
			attr(b, oidSigningCertificate, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1OctetString(sum[:]) })
					})
				})
			})
		}
		if !f.noESS {
			sum := sha256.Sum256(f.essV2.Raw)
			attr(b, oidSigningCertificateV2, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(sum[:])
							if f.essSerial != nil {
								b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
									b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
										b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(cert.RawIssuer) })
									})
									b.AddASN1BigInt(f.essSerial)
								})
							}
						})
					})
				})
			})
		}
	})
	attrs := ab.BytesOrPanic()
	signed := append([]byte{0x31}, attrs[1:]...)
	h = f.digestHash.New()
	h.Write(signed)
	sig, err := f.key.Sign(rand.Reader, h.Sum(nil), f.digestHash)
	if err != nil {
		t.Fatal(err)
	}

	signerInfo := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if f.sidSKI {
				b.AddASN1Int64(3)
				b.AddASN1(tagP0, func(b *cryptobyte.Builder) { b.AddBytes(cert.SubjectKeyId) })
			} else {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddBytes(cert.RawIssuer)
					b.AddASN1BigInt(cert.SerialNumber)
				})
			}
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(hashOID(f.digestHash)) })
			b.AddBytes(attrs)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(f.sigAlg) })
			b.AddASN1OctetString(sig)
		})
	}
	var tb cryptobyte.Builder
	tb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(tagC0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(f.version)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(hashOID(f.digestHash)) })
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(f.eContentType)
					b.AddASN1(tagC0, func(b *cryptobyte.Builder) { b.AddASN1OctetString(tst) })
				})
				if len(f.certs) > 0 {
					b.AddASN1(tagC0, func(b *cryptobyte.Builder) {
						for _, c := range f.certs {
							b.AddBytes(c.Raw)
						}
					})
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for range f.signers {
						signerInfo(b)
					}
				})
			})
		})
	})
	return tb.BytesOrPanic()
}

func der(t testing.TB, f func(*cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	return b.BytesOrPanic()
}

// TestForgedTokens: every check of Verify (and of Parse) made to fire by
// a hand-built token that fails only it, after the hand-built good token
// passes.
func TestForgedTokens(t *testing.T) {
	a := testtsa.Start(t, testtsa.Options{})
	sig := sealSignature(t)
	sum := sha256.Sum256(sig)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hourAgo := time.Now().Add(-2 * time.Hour).UTC().Format("20060102150405Z")
	for _, tc := range []struct {
		name   string
		f      forgery
		want   Reason // ReasonUnknown: Verify passes
		detail string
	}{
		{name: "good", f: forgery{}},
		{name: "TSA certificate after the CA's", f: forgery{certs: []*x509.Certificate{a.CACert(), a.Cert()}}},
		{name: "signer by subject key identifier", f: forgery{sidSKI: true}},
		{name: "signature algorithm id-ecPublicKey", f: forgery{sigAlg: oidECPublicKey}},
		{name: "ESSCertID naming the TSA", f: forgery{essV1: a.Cert()}},
		{name: "ESSCertIDv2 with issuerSerial", f: forgery{essSerial: a.Cert().SerialNumber}},
		{name: "genTime with fraction", f: forgery{genTime: time.Now().UTC().Format("20060102150405") + ".25Z"}},
		{name: "no ESS attribute", f: forgery{noESS: true}},

		{name: "ESSCertIDv2 naming the CA", f: forgery{essV2: a.CACert()}, want: ReasonSigningCertificate, detail: "signing-certificate-v2"},
		{name: "ESSCertID naming the CA", f: forgery{essV1: a.CACert()}, want: ReasonSigningCertificate, detail: "SHA-1"},
		{name: "ESSCertIDv2 with another serial", f: forgery{essSerial: big.NewInt(99)}, want: ReasonSigningCertificate, detail: "serial 0x63"},
		{name: "no content-type attribute", f: forgery{noContentType: true}, want: ReasonBadSignature, detail: "no content-type"},
		{name: "content-type id-data", f: forgery{contentType: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}}, want: ReasonBadSignature, detail: "not id-ct-TSTInfo"},
		{name: "no message-digest attribute", f: forgery{noDigest: true}, want: ReasonBadSignature, detail: "no message-digest"},
		{name: "two message-digest attributes", f: forgery{secondDigest: make([]byte, 32)}, want: ReasonMalformed, detail: "appears twice"},
		{name: "message-digest of other content", f: forgery{messageDigest: make([]byte, 32)}, want: ReasonBadSignature, detail: "changed after"},
		{name: "signed by another key", f: forgery{key: otherKey}, want: ReasonBadSignature, detail: "does not verify"},
		{name: "RSA signature algorithm, ECDSA key", f: forgery{sigAlg: oidSHA256WithRSA}, want: ReasonBadSignature, detail: "holds an ECDSA key"},
		{name: "unknown signature algorithm", f: forgery{sigAlg: asn1.ObjectIdentifier{1, 3, 101, 112}}, want: ReasonUnsupported, detail: "not ECDSA or RSA"},
		{name: "SHA-1 digest algorithm", f: forgery{digestHash: crypto.SHA1, sigAlg: oidECDSAWithSHA1}, want: ReasonUnsupported, detail: "SHA-1"},
		{name: "signature hash other than digest", f: forgery{sigAlg: oidECDSAWithSHA384}, want: ReasonUnsupported, detail: "another hash"},
		{name: "genTime before the TSA certificate", f: forgery{genTime: hourAgo}, want: ReasonTimeOutsideValidity, detail: "lies outside the validity"},
		{name: "TSA certificate not embedded", f: forgery{certs: []*x509.Certificate{a.CACert()}}, want: ReasonNoCertificate, detail: "does not embed"},
		{name: "not embedded, other imprint", f: forgery{certs: []*x509.Certificate{}, digest: make([]byte, 32)}, want: ReasonImprintMismatch},
		{name: "critical TSTInfo extension", f: forgery{ext: der(t, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 3})
				b.AddASN1Boolean(true)
				b.AddASN1OctetString(nil)
			})
		})}, want: ReasonUnsupported, detail: "critical extension 1.2.3"},

		{name: "two signers", f: forgery{signers: 2}, want: ReasonMalformed, detail: "more than one SignerInfo"},
		{name: "no signer", f: forgery{signers: -1}, want: ReasonMalformed, detail: "no SignerInfo"},
		{name: "SignedData version 1", f: forgery{version: 1}, want: ReasonMalformed, detail: "version 1"},
		{name: "econtent id-data", f: forgery{eContentType: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}}, want: ReasonMalformed, detail: "not id-ct-TSTInfo"},
		{name: "genTime without Z", f: forgery{genTime: "20260101000000"}, want: ReasonMalformed, detail: "genTime"},
		{name: "genTime with trailing zero", f: forgery{genTime: "20260101000000.10Z"}, want: ReasonMalformed, detail: "genTime"},
		{name: "accuracy of 0 ms", f: forgery{accuracy: der(t, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64WithTag(0, tagP0) })
		})}, want: ReasonMalformed, detail: "accuracy"},
		{name: "ordering not a DER BOOLEAN", f: forgery{ordering: []byte{0x01, 0x01, 0x01}}, want: ReasonMalformed, detail: "ordering"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.f.digest == nil {
				tc.f.digest = sum[:]
			}
			tok, err := Parse(tc.f.build(t, a))
			if err == nil {
				err = tok.Verify(VerifyOptions{Data: sig, Roots: a.CAPool()})
			}
			if tc.want == ReasonUnknown {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantReason(t, err, tc.want)
			t.Log(err)
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("%v, want %q", err, tc.detail)
			}
		})
	}
}

// TestForgedAccuracy: the three parts of accuracy add up.
func TestForgedAccuracy(t *testing.T) {
	a := testtsa.Start(t, testtsa.Options{})
	acc := der(t, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(2)
			b.AddASN1Int64WithTag(3, tagP0)
			b.AddASN1Int64WithTag(4, tagP1)
		})
	})
	tok, err := Parse(forgery{digest: make([]byte, 32), accuracy: acc, ordering: []byte{1, 1, 0xff}}.build(t, a))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Accuracy != 2*time.Second+3*time.Millisecond+4*time.Microsecond || !tok.Ordering {
		t.Errorf("accuracy %v, ordering %v", tok.Accuracy, tok.Ordering)
	}
}
