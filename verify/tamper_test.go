package verify_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/internal/testtsa"
	"github.com/tlseal/tlseal/revocation"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/tsa"
	"github.com/tlseal/tlseal/verify"
)

type pki struct {
	ca, inter, other  *testpki.Cert
	signer, viaInter  *timeline.Signer
	expired, noDigSig *timeline.Signer
	foreign           *timeline.Signer // chains to another CA
	trust             *verify.Trust
}

func newPKI(t *testing.T) *pki {
	p := &pki{}
	p.ca = testpki.CA(t, testpki.Options{})
	p.inter = testpki.Intermediate(t, p.ca, testpki.Options{})
	p.signer = testpki.Signer(t, testpki.Leaf(t, p.ca, testpki.Options{}))
	p.viaInter = testpki.Signer(t, testpki.Leaf(t, p.inter, testpki.Options{CN: "via intermediate"}), p.inter)
	p.expired = testpki.Signer(t, testpki.Leaf(t, p.ca, testpki.Options{CN: "expired",
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}))
	p.noDigSig = testpki.Signer(t, testpki.Leaf(t, p.ca, testpki.Options{CN: "no digitalSignature", KeyUsage: x509.KeyUsageKeyEncipherment}))
	p.other = testpki.CA(t, testpki.Options{CN: "Other CA"})
	p.foreign = testpki.Signer(t, testpki.Leaf(t, p.other, testpki.Options{CN: "foreign"}))
	p.trust = verify.NewTrust([]*x509.Certificate{p.ca.Cert})
	return p
}

func seal(t *testing.T, s *timeline.Signer, orig []byte, when time.Time) []byte {
	t.Helper()
	var m memfile.File
	if _, err := timeline.Seal(&m, bytes.NewReader(orig), int64(len(orig)), timeline.SealOptions{Name: "f", Signer: s, Time: when}); err != nil {
		t.Fatal(err)
	}
	return m.Bytes()
}

func check(t *testing.T, data []byte, trust *verify.Trust) *verify.ItemResult {
	t.Helper()
	res, err := verify.Reader(bytes.NewReader(data), int64(len(data)), "f", trust)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func codes(res *verify.ItemResult) []string {
	var cs []string
	for _, f := range res.Findings {
		cs = append(cs, f.Code)
	}
	return cs
}

// envelopeSpan locates the envelope in sealed bytes.
func envelopeSpan(t *testing.T, sealed []byte) (start, end int) {
	t.Helper()
	o, err := timeline.Open(bytes.NewReader(sealed), int64(len(sealed)))
	if err != nil || o.EnvelopeBytes == nil {
		t.Fatalf("open: %v", err)
	}
	i := bytes.LastIndex(sealed, o.EnvelopeBytes)
	return i, i + len(o.EnvelopeBytes)
}

// replaceEnvelope swaps the envelope bytes of a sealed file, fixing the
// RIFF chunk size and padding so only the envelope differs.
func replaceEnvelope(t *testing.T, sealed []byte, env []byte) []byte {
	t.Helper()
	s, e := envelopeSpan(t, sealed)
	if string(sealed[:4]) != "RIFF" {
		return slices.Concat(sealed[:s], env, sealed[e:])
	}
	out := slices.Clone(sealed[:s-4])
	out = binary.LittleEndian.AppendUint32(out, uint32(len(env)))
	out = append(out, env...)
	if len(env)%2 == 1 {
		out = append(out, 0)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

func mutateEnvelope(t *testing.T, sealed []byte, f func(e *timeline.Envelope)) []byte {
	s, e := envelopeSpan(t, sealed)
	env, err := timeline.ParseEnvelope(sealed[s:e])
	if err != nil {
		t.Fatal(err)
	}
	f(env)
	return replaceEnvelope(t, sealed, env.Marshal())
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func TestTamperMatrix(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	jsonOrig := samples.EventJSON(1, now, "rec.wav")
	wavOrig := append(samples.WAV(8000, 0.25, 440), 'x') // odd size: the seal needs a pad byte
	sealedJSON := seal(t, p.signer, jsonOrig, now)
	sealedWAV := seal(t, p.signer, wavOrig, now)
	envS, envE := envelopeSpan(t, sealedJSON)
	wavEnvS, wavEnvE := envelopeSpan(t, sealedWAV)
	wavEnv := sealedWAV[wavEnvS:wavEnvE]
	plSigner, plTrust := pathLenSigner(t)
	sealChunk := sealedWAV[len(wavOrig)+1:]
	codeSigner := leafWith(t, p, nil, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning} })
	codeTrust := verify.NewTrust([]*x509.Certificate{p.ca.Cert})
	codeTrust.SignerEKUs = []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 3}}
	notCAInter := testpki.Intermediate(t, p.ca, testpki.Options{CN: "not a CA", Template: func(c *x509.Certificate) { c.IsCA = false }})

	// Seal format v2: tokens from a real TSA (openssl ts -reply).
	goodTSA := testtsa.Start(t, testtsa.Options{})
	tsTrust := tsaTrust(p, goodTSA)
	stamped := sealStamped(t, p.signer, jsonOrig, now, goodTSA)
	otherStamped := sealStamped(t, p.signer, samples.EventJSON(2, now, "other.wav"), now, goodTSA)
	otherTST := parsedEnvelope(t, otherStamped).TST
	noEKUTSA := testtsa.Start(t, testtsa.Options{EKU: testtsa.EKUNone})
	nonCriticalTSA := testtsa.Start(t, testtsa.Options{EKU: testtsa.EKUNonCritical})
	// A signer whose certificate expired a minute ago, with a seal that
	// claims to be older: signedAt says valid, the token says not.
	lapsed := testpki.Signer(t, testpki.Leaf(t, p.ca, testpki.Options{CN: "lapsed", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(-time.Minute)}))
	backdated := sealStamped(t, lapsed, jsonOrig, now.Add(-2*time.Minute), goodTSA)
	revokedLater := crlTrust(t, p, crlOf(t, p.ca, p.signer.Cert, now.Add(time.Hour), time.Now().Add(24*time.Hour)))
	revokedLater.TSAAnchors = tsTrust.TSAAnchors
	revokedBefore := crlTrust(t, p, crlOf(t, p.ca, p.signer.Cert, now.Add(-time.Hour), time.Now().Add(24*time.Hour)))
	revokedBefore.TSAAnchors = tsTrust.TSAAnchors

	cases := []struct {
		name    string
		data    []byte
		trust   *verify.Trust
		want    string
		verdict verify.Verdict
	}{
		{"json intact", sealedJSON, nil, "", verify.Passed},
		{"wav intact", sealedWAV, nil, "", verify.Passed},
		{"json via intermediate", seal(t, p.viaInter, jsonOrig, now), nil, "", verify.Passed},

		{"json content byte", flip(sealedJSON, 20), nil, "content.digestMismatch", verify.Failed},
		{"wav content byte", flip(sealedWAV, 100), nil, "content.digestMismatch", verify.Failed},
		{"wav fmt chunk byte", flip(sealedWAV, 22), nil, "content.digestMismatch", verify.Failed},
		{"json envelope name", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) { e.Name = "other" }), nil, "signature.invalid", verify.Failed},
		{"json envelope size", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) { e.Size++ }), nil, "content.sizeMismatch", verify.Failed},
		{"json envelope time", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) { e.SignedAt = e.SignedAt.Add(time.Second) }), nil, "signature.invalid", verify.Failed},
		{"wav envelope riffSize", mutateEnvelope(t, sealedWAV, func(e *timeline.Envelope) { *e.RIFFSize++ }), nil, "content.digestMismatch", verify.Failed},
		{"json envelope digest", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) { e.SHA256 = strings.Repeat("0", 64) }), nil, "signature.invalid", verify.Failed},
		{"json signature byte", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) {
			sig, _ := base64.StdEncoding.DecodeString(e.Sig)
			sig[len(sig)-1] ^= 1
			e.Sig = base64.StdEncoding.EncodeToString(sig)
		}), nil, "signature.invalid", verify.Failed},
		{"json signature not base64", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) { e.Sig = "!!" + e.Sig }), nil, "signature.encoding", verify.Failed},
		{"json certificate byte", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) {
			e.CertPEM = strings.Replace(e.CertPEM, "MII", "MIJ", 1)
		}), nil, "cert.malformed", verify.Failed},
		{"json certificate swapped", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) { e.CertPEM = pemOf(p.expired) }), nil, "signature.invalid", verify.Failed},
		{"json unknown member", replaceEnvelope(t, sealedJSON, append([]byte(`{"x":1,`), sealedJSON[envS+1:envE]...)), nil, "seal.malformed", verify.Failed},
		{"json envelope not json", replaceEnvelope(t, sealedJSON, []byte(`{"v":1 `+strings.Repeat(" ", 3)+`}`)), nil, "seal.malformed", verify.Failed},
		{"json alg mismatch", algMismatch(t, p, sealedJSON), nil, "cert.algMismatch", verify.Failed},
		{"json seal removed", slices.Concat(sealedJSON[:len(jsonOrig)-2], sealedJSON[len(sealedJSON)-2:]), nil, "seal.missing", verify.Failed},
		{"json seal duplicated", slices.Concat(sealedJSON[:envE], []byte(`,"seal":`), sealedJSON[envS:envE], sealedJSON[envE:]), nil, "seal.multiple", verify.Failed},
		{"json seal moved first", moveJSONSealFirst(t, sealedJSON, envS, envE), nil, "seal.notLast", verify.Failed},
		{"json space before seal key", slices.Concat(sealedJSON[:envS-8], []byte(", "), sealedJSON[envS-7:]), nil, "json.spliceInvalid", verify.Failed},
		{"json bytes appended", append(bytes.Clone(sealedJSON), "x"...), nil, "json.invalid", verify.Failed},
		{"json truncated", sealedJSON[:len(sealedJSON)-3], nil, "json.invalid", verify.Failed},
		{"riff envelope in json", slices.Concat(sealedJSON[:envS], wavEnv, sealedJSON[envE:]), nil, "seal.kindMismatch", verify.Failed},

		{"wav riff size field", flip(sealedWAV, 5), nil, "riff.sealedSizeMismatch", verify.Failed},
		{"wav pad after original", flip(sealedWAV, len(wavOrig)), nil, "riff.sealPadNonZero", verify.Failed},
		{"wav seal chunk moved", slices.Concat(sealedWAV[:12], sealChunk, sealedWAV[12:len(wavOrig)+1]), nil, "seal.notLast", verify.Failed},
		{"wav seal chunk duplicated", slices.Concat(sealedWAV, sealChunk), nil, "seal.multiple", verify.Failed},
		{"wav bytes appended", append(bytes.Clone(sealedWAV), "junk!"...), nil, "seal.notLast", verify.Failed},
		{"wav seal removed", sealedWAV[:len(wavOrig)+1], nil, "seal.missing", verify.Failed},
		{"wav header damaged", append([]byte("RIFF\x00"), sealedWAV[5:9]...), nil, "riff.unreadable", verify.Failed},
		{"not a timeline file", []byte("hello"), nil, "seal.missing", verify.Failed},

		{"signer expired at signedAt", seal(t, p.expired, jsonOrig, now), nil, "cert.expired", verify.Failed},
		{"signer not yet valid at signedAt", seal(t, p.signer, jsonOrig, now.Add(-10*time.Hour)), nil, "cert.notYetValid", verify.Failed},
		{"signer without digitalSignature", seal(t, p.noDigSig, jsonOrig, now), nil, "cert.keyUsage", verify.Failed},
		{"signer from untrusted CA", seal(t, p.foreign, jsonOrig, now), nil, "cert.untrusted", verify.Indeterminate},
		{"no trust anchor", sealedJSON, verify.NewTrust(nil), "cert.untrusted", verify.Indeterminate},
		{"intermediate missing", mutateEnvelopeResign(t, p.viaInter, jsonOrig, now, func(e *timeline.Envelope) { e.ChainPEM = "" }), nil, "cert.untrusted", verify.Indeterminate},
		{"path length exceeded", seal(t, plSigner, jsonOrig, now), plTrust, "cert.chainInvalid", verify.Failed},
		{"signer is a CA", seal(t, leafWith(t, p, nil, func(c *x509.Certificate) {
			c.IsCA, c.KeyUsage = true, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign
		}), jsonOrig, now), nil, "cert.signerIsCA", verify.Failed},
		{"signer EKU serverAuth only", seal(t, leafWith(t, p, nil, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }), jsonOrig, now), nil, "cert.extKeyUsage", verify.Failed},
		{"signer EKU codeSigning, not configured", seal(t, codeSigner, jsonOrig, now), nil, "cert.extKeyUsage", verify.Failed},
		{"signer EKU codeSigning, configured", seal(t, codeSigner, jsonOrig, now), codeTrust, "", verify.Passed},
		{"signer EKU documentSigning", seal(t, leafWith(t, p, nil, func(c *x509.Certificate) { c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{verify.OIDDocumentSigning} }), jsonOrig, now), nil, "", verify.Passed},
		{"signer EKU any", seal(t, leafWith(t, p, nil, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }), jsonOrig, now), nil, "", verify.Passed},
		{"chainPem of 9 certificates", mutateEnvelopeResign(t, p.viaInter, jsonOrig, now, func(e *timeline.Envelope) { e.ChainPEM = strings.Repeat(e.ChainPEM, timeline.MaxChainCerts+1) }), nil, "cert.malformed", verify.Failed},
		{"intermediate not a CA", seal(t, leafWith(t, p, notCAInter, nil), jsonOrig, now), nil, "cert.chainInvalid", verify.Failed},
		{"RSA signer certificate", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) { e.CertPEM = otherKeyCertPEM(t, p, "rsa") }), nil, "cert.algMismatch", verify.Failed},
		{"Ed25519 signer certificate", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) { e.CertPEM = otherKeyCertPEM(t, p, "ed25519") }), nil, "cert.algMismatch", verify.Failed},

		// Quirks of originals are evidence: reported, preserved, not failures.
		{"original riff size wrong", seal(t, p.signer, setLE32(riffOf("data", "abcd"), 4, 99), now), nil, "riff.sizeMismatch", verify.Passed},
		{"original riff size placeholder", seal(t, p.signer, setLE32(riffOf("data", "abcd"), 4, 0xFFFFFFFF), now), nil, "riff.placeholderSize", verify.Passed},
		{"original truncated data chunk", seal(t, p.signer, setLE32(riffOf("data", "abcd"), 16, 4000), now), nil, "riff.truncatedChunk", verify.Passed},
		{"original missing pad", seal(t, p.signer, []byte("RIFF\x1a\x00\x00\x00WAVEodd \x03\x00\x00\x00abcLIST\x00\x00\x00\x00"), now), nil, "riff.missingPad", verify.Passed},
		{"original non-zero pad", seal(t, p.signer, []byte("RIFF\x1b\x00\x00\x00WAVEodd \x03\x00\x00\x00abc\x55LIST\x00\x00\x00\x00"), now), nil, "riff.nonZeroPad", verify.Passed},
		{"original garbage after chunks", seal(t, p.signer, append(riffOf("data", "abcd"), 0, 1, 2, 3, 4, 5, 6, 7, 8), now), nil, "riff.invalidChunkId", verify.Passed},
		{"original trailing bytes", seal(t, p.signer, append(riffOf("data", "abcd"), 'a', 'b'), now), nil, "riff.trailingBytes", verify.Passed},
		{"original duplicate json key", seal(t, p.signer, []byte(`{"a":1,"a":2}`), now), nil, "json.duplicateKey", verify.Passed},
		{"chainPem garbage", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) { e.ChainPEM = "junk" }), nil, "signature.invalid", verify.Failed},

		// One valid byte form: the same members in other bytes are not the
		// seal, although the signature (over the members) still verifies.
		{"json envelope with white space", replaceEnvelope(t, sealedJSON, bytes.ReplaceAll(sealedJSON[envS:envE], []byte(`","`), []byte(`", "`))), nil, "seal.nonCanonical", verify.Failed},
		{"json envelope members reordered", replaceEnvelope(t, sealedJSON, slices.Concat([]byte(`{"v":1,`), bytes.TrimSuffix(sealedJSON[envS+1:envE], []byte(`,"v":1}`)), []byte(`}`))), nil, "seal.nonCanonical", verify.Failed},
		{"json envelope escaped letter", replaceEnvelope(t, sealedJSON, bytes.Replace(sealedJSON[envS:envE], []byte(`"kind":"json"`), []byte(`"kind":"\u006ason"`), 1)), nil, "seal.nonCanonical", verify.Failed},
		{"json envelope escaped slash", replaceEnvelope(t, sealedJSON, bytes.Replace(sealedJSON[envS:envE], []byte(`"certPem":"-----BEGIN`), []byte(`"certPem":"\u002d----BEGIN`), 1)), nil, "seal.nonCanonical", verify.Failed},
		{"wav envelope with white space", replaceWAVEnvelope(t, sealedWAV, len(wavOrig)+1, bytes.Replace(wavEnv, []byte(`,"v":1}`), []byte(`, "v":1}`), 1)), nil, "seal.nonCanonical", verify.Failed},
		{"json sig with a line break", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) { e.Sig = e.Sig[:20] + "\n" + e.Sig[20:] }), nil, "signature.encoding", verify.Failed},
		{"json sig padding changed", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) {
			// Padding removed where there is some, added where there is none.
			if strings.HasSuffix(e.Sig, "=") {
				e.Sig = strings.TrimRight(e.Sig, "=")
			} else {
				e.Sig += "=="
			}
		}), nil, "signature.encoding", verify.Failed},
		{"json certPem with text before", mutateEnvelopeResign(t, p.signer, jsonOrig, now, func(e *timeline.Envelope) { e.CertPEM = "subject=CN signer\n" + e.CertPEM }), nil, "seal.nonCanonical", verify.Failed},
		{"json certPem with CRLF", mutateEnvelopeResign(t, p.signer, jsonOrig, now, func(e *timeline.Envelope) { e.CertPEM = strings.ReplaceAll(e.CertPEM, "\n", "\r\n") }), nil, "seal.nonCanonical", verify.Failed},
		{"json chainPem with text between", mutateEnvelopeResign(t, p.viaInter, jsonOrig, now, func(e *timeline.Envelope) { e.ChainPEM = "\n" + e.ChainPEM }), nil, "seal.nonCanonical", verify.Failed},
		{"json high-S twin (v1)", mutateEnvelope(t, sealedJSON, func(e *timeline.Envelope) { e.Sig = highSTwin(t, p.signer, e.Sig) }), nil, "signature.highS", verify.Passed},

		// Seal format v2: the token over the signature.
		{"v2 intact", stamped, tsTrust, "", verify.Passed},
		{"v2 TSA not trusted", stamped, nil, "timestamp.untrusted", verify.Indeterminate},
		{"v2 token of another seal", mutateEnvelope(t, stamped, func(e *timeline.Envelope) { e.TST = otherTST }), tsTrust, "timestamp.imprintMismatch", verify.Failed},
		{"v2 token byte edited", mutateEnvelope(t, stamped, func(e *timeline.Envelope) { e.TST = flipTSTInfo(t, e.TST) }), tsTrust, "timestamp.invalid", verify.Failed},
		{"v2 token not DER", mutateEnvelope(t, stamped, func(e *timeline.Envelope) { e.TST = base64.StdEncoding.EncodeToString([]byte("not a token")) }), tsTrust, "timestamp.invalid", verify.Failed},
		{"v2 TSA without the timeStamping EKU", sealStamped(t, p.signer, jsonOrig, now, noEKUTSA), tsaTrust(p, noEKUTSA), "timestamp.invalid", verify.Failed},
		{"v2 TSA with a non-critical EKU", sealStamped(t, p.signer, jsonOrig, now, nonCriticalTSA), tsaTrust(p, nonCriticalTSA), "timestamp.invalid", verify.Failed},
		{"v2 signedAt after the token's time", stampedLate(t, p.signer, jsonOrig, now.Add(time.Hour), goodTSA), tsTrust, "timestamp.afterSignedAt", verify.Failed},
		{"v2 backdated past the signer's expiry", backdated, tsTrust, "cert.expired", verify.Failed},
		{"v2 token removed, version kept", mutateEnvelope(t, stamped, func(e *timeline.Envelope) { e.TST = "" }), tsTrust, "seal.malformed", verify.Failed},
		{"v2 revoked after the trusted time", stamped, revokedLater, "cert.revokedAfterTrustedTime", verify.Passed},
		{"v2 revoked before the trusted time", stamped, revokedBefore, "cert.revoked", verify.Failed},

		// Revocation, with CRLs the examiner supplies (no trusted time: judged at signedAt).
		{"signer revoked", sealedJSON, crlTrust(t, p, crlOf(t, p.ca, p.signer.Cert, now.Add(-time.Hour), time.Now().Add(24*time.Hour))), "cert.revoked", verify.Failed},
		{"signer revoked after the seal, no trusted time", sealedJSON, crlTrust(t, p, crlOf(t, p.ca, p.signer.Cert, now.Add(time.Hour), time.Now().Add(24*time.Hour))), "cert.revoked", verify.Failed},
		{"signer not revoked", sealedJSON, crlTrust(t, p, crlOf(t, p.ca, nil, now.Add(-time.Hour), time.Now().Add(24*time.Hour))), "", verify.Passed},
		{"no CRL for the issuer", sealedJSON, crlTrust(t, p, crlOf(t, p.other, nil, now.Add(-time.Hour), time.Now().Add(24*time.Hour))), "crl.missing", verify.Passed},
		{"forged CRL (same issuer name, other key)", sealedJSON, crlTrust(t, p, crlOf(t, testpki.CA(t, testpki.Options{}), nil, now.Add(-time.Hour), time.Now().Add(24*time.Hour))), "crl.invalid", verify.Indeterminate},
		{"forged CRL beside the genuine one", sealedJSON, crlTrust(t, p, crlOf(t, p.ca, nil, now.Add(-time.Hour), time.Now().Add(24*time.Hour)),
			crlOf(t, testpki.CA(t, testpki.Options{}), nil, now.Add(-time.Hour), time.Now().Add(24*time.Hour))), "crl.invalid", verify.Indeterminate},
		{"expired CRL", sealedJSON, crlTrust(t, p, crlOf(t, p.ca, nil, now.Add(-48*time.Hour), now.Add(-24*time.Hour))), "crl.expired", verify.Indeterminate},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			trust := c.trust
			if trust == nil {
				trust = p.trust
			}
			res := check(t, c.data, trust)
			got := codes(res)
			for _, code := range got {
				seen[code] = true
			}
			if c.want == "" {
				for _, f := range res.Findings {
					if f.Severity != verify.SevInfo {
						t.Errorf("unexpected finding %s: %s", f.Code, f.Message)
					}
				}
			} else if !slices.Contains(got, c.want) {
				t.Errorf("findings %v, want %s", got, c.want)
			}
			if res.Verdict != c.verdict {
				t.Errorf("verdict %s, want %s (findings %v)", res.Verdict, c.verdict, got)
			}
		})
	}
	// Every finding code must be made to fire by some case: a check that
	// nothing triggers is a check nobody knows works.
	for _, code := range verify.SortedCodes() {
		// log.* and chain.* fire in TestArchiveTamperMatrix and archive/tamper_test.go,
		// proof.* in TestCheckProof, watch.* in the watch package's tests,
		// timestamp.missing in TestArchiveCheckpointTimestamps and the
		// watch package's tests, storage.* in TestArchiveOnS3 and
		// archive/s3_test.go.
		if !seen[code] && code != verify.CodeTimestampMissing && !strings.HasPrefix(code, "log.") && !strings.HasPrefix(code, "chain.") && !strings.HasPrefix(code, "watch.") && !strings.HasPrefix(code, "proof.") && !strings.HasPrefix(code, "storage.") {
			t.Errorf("no tamper case triggers %s", code)
		}
	}
}

// sealStamped seals orig with a token from a over the signature.
func sealStamped(t *testing.T, s *timeline.Signer, orig []byte, when time.Time, a *testtsa.TSA) []byte {
	t.Helper()
	var m memfile.File
	if _, err := timeline.Seal(&m, bytes.NewReader(orig), int64(len(orig)), timeline.SealOptions{Name: "f", Signer: s, Time: when,
		Timestamp: func(sig []byte) ([]byte, error) { return a.Token(t, sig, "sha256"), nil }}); err != nil {
		t.Fatal(err)
	}
	return m.Bytes()
}

// tsaTrust is the test policy with a's CA as the TSA anchor.
func tsaTrust(p *pki, a *testtsa.TSA) *verify.Trust {
	trust := verify.NewTrust([]*x509.Certificate{p.ca.Cert})
	trust.TSAAnchors = []*x509.Certificate{a.CACert()}
	return trust
}

func parsedEnvelope(t *testing.T, sealed []byte) *timeline.Envelope {
	t.Helper()
	s, e := envelopeSpan(t, sealed)
	env, err := timeline.ParseEnvelope(sealed[s:e])
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// flipTSTInfo flips one bit in the middle of the TSTInfo (what the TSA
// signs: time, imprint, serial) of a base64 token.
func flipTSTInfo(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tsa.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, tok.TSTInfo)
	if i < 0 {
		t.Fatal("no TSTInfo in the token")
	}
	b[i+len(tok.TSTInfo)/2] ^= 0x01
	return base64.StdEncoding.EncodeToString(b)
}

// crlOf is a CRL of ca listing revoked (when set) as revoked at
// revokedAt, thisUpdate an hour before revokedAt (or now), nextUpdate next.
func crlOf(t *testing.T, ca *testpki.Cert, revoked *x509.Certificate, revokedAt, next time.Time) []byte {
	t.Helper()
	this := revokedAt
	if now := time.Now(); now.Before(this) {
		this = now
	}
	this = this.Add(-time.Hour)
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: this, NextUpdate: next}
	if next.Before(this) {
		tmpl.ThisUpdate = next.Add(-time.Hour)
	}
	if revoked != nil {
		tmpl.RevokedCertificateEntries = []x509.RevocationListEntry{{SerialNumber: revoked.SerialNumber, RevocationTime: revokedAt}}
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// crlTrust is the test policy with the CRLs given.
func crlTrust(t *testing.T, p *pki, crls ...[]byte) *verify.Trust {
	t.Helper()
	trust := verify.NewTrust([]*x509.Certificate{p.ca.Cert})
	set := &revocation.Set{}
	for i, der := range crls {
		s, err := revocation.ParseCRLs(der, fmt.Sprintf("crl%d.der", i))
		if err != nil {
			t.Fatal(err)
		}
		set.Merge(s)
	}
	trust.CRLs = set
	return trust
}

// leafWith is a signer under the test CA (or under inter, carried in
// chainPem), its certificate template edited by edit.
func leafWith(t *testing.T, p *pki, inter *testpki.Cert, edit func(*x509.Certificate)) *timeline.Signer {
	parent := p.ca
	var chain []*testpki.Cert
	if inter != nil {
		parent, chain = inter, []*testpki.Cert{inter}
	}
	return testpki.Signer(t, testpki.Leaf(t, parent, testpki.Options{CN: "edited signer", Template: edit}), chain...)
}

// otherKeyCertPEM is a certificate under the test CA for a key that seal
// format v1 does not sign with: RSA or Ed25519.
func otherKeyCertPEM(t *testing.T, p *pki, kind string) string {
	var pub crypto.PublicKey
	switch kind {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub = k.Public()
	default:
		pub, _, _ = ed25519.GenerateKey(rand.Reader)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: kind + " signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca.Cert, pub, p.ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// highSTwin is the other valid signature (r, n−s) of a low-S one.
func highSTwin(t *testing.T, s *timeline.Signer, sig string) string {
	der, _ := base64.StdEncoding.DecodeString(sig)
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		t.Fatal(err)
	}
	rs.S.Sub(s.Cert.PublicKey.(*ecdsa.PublicKey).Curve.Params().N, rs.S)
	out, err := asn1.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out)
}

// replaceWAVEnvelope puts env in place of the seal chunk's envelope (the
// chunk starts at off), sizes and pad fixed as the sealer would.
func replaceWAVEnvelope(t *testing.T, sealed []byte, off int, env []byte) []byte {
	out := slices.Concat(sealed[:off], []byte("seal"), binary.LittleEndian.AppendUint32(nil, uint32(len(env))), env)
	if len(env)%2 == 1 {
		out = append(out, 0)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

func riffOf(id, data string) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE" + id + "\x00\x00\x00\x00" + data)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(data)))
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func setLE32(b []byte, off int, v uint32) []byte {
	binary.LittleEndian.PutUint32(b[off:], v)
	return b
}

// pathLenSigner's chain breaks the root's path length constraint: a root
// that may only issue end-entity certificates issued an intermediate.
func pathLenSigner(t *testing.T) (*timeline.Signer, *verify.Trust) {
	root := testpki.CA(t, testpki.Options{CN: "path-length-0 root", PathLenZero: true})
	inter := testpki.Intermediate(t, root, testpki.Options{})
	leaf := testpki.Leaf(t, inter, testpki.Options{CN: "beyond the path length"})
	return testpki.Signer(t, leaf, inter), verify.NewTrust([]*x509.Certificate{root.Cert})
}

func pemOf(s *timeline.Signer) string {
	var b bytes.Buffer
	b.WriteString("-----BEGIN CERTIFICATE-----\n")
	enc := base64.StdEncoding.EncodeToString(s.Cert.Raw)
	for len(enc) > 64 {
		b.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	b.WriteString(enc + "\n-----END CERTIFICATE-----\n")
	return b.String()
}

func moveJSONSealFirst(t *testing.T, sealed []byte, envS, envE int) []byte {
	// {"id":...,"seal":ENV} -> {"seal":ENV,"id":...}
	body := sealed[1 : envS-8] // members before the seal, without '{'
	return slices.Concat([]byte(`{"seal":`), sealed[envS:envE], []byte(","), body, sealed[envE:])
}

// algMismatch signs an envelope that claims ES512 with the P-256 key, over
// SHA-512: the signature itself is valid, the algorithm is not the key's.
func algMismatch(t *testing.T, p *pki, sealed []byte) []byte {
	s, e := envelopeSpan(t, sealed)
	env, _ := timeline.ParseEnvelope(sealed[s:e])
	env.Alg = timeline.ES512
	d := sha512.Sum512(env.SigningInput())
	sig, err := p.signer.Key.Sign(rand.Reader, d[:], crypto.SHA512)
	if err != nil {
		t.Fatal(err)
	}
	env.Sig = base64.StdEncoding.EncodeToString(sig)
	return replaceEnvelope(t, sealed, env.Marshal())
}

// mutateEnvelopeResign changes an envelope and signs it again with the same
// key, so only the changed member's meaning is tested.
func mutateEnvelopeResign(t *testing.T, s *timeline.Signer, orig []byte, when time.Time, f func(e *timeline.Envelope)) []byte {
	sealed := seal(t, s, orig, when)
	st, en := envelopeSpan(t, sealed)
	env, _ := timeline.ParseEnvelope(sealed[st:en])
	f(env)
	h, _ := env.Alg.Hash()
	hh := h.New()
	hh.Write(env.SigningInput())
	sig, err := s.Key.Sign(rand.Reader, hh.Sum(nil), h)
	if err != nil {
		t.Fatal(err)
	}
	env.Sig = base64.StdEncoding.EncodeToString(sig)
	return replaceEnvelope(t, sealed, env.Marshal())
}

// stampedLate makes by hand, as an attacker would, a version-2 seal whose
// signedAt (when) is later than its token's time: the sealer refuses to
// make one (timeline checks the token it gets).
func stampedLate(t *testing.T, s *timeline.Signer, orig []byte, when time.Time, a *testtsa.TSA) []byte {
	sealed := seal(t, s, orig, when)
	st, en := envelopeSpan(t, sealed)
	env, _ := timeline.ParseEnvelope(sealed[st:en])
	env.V = timeline.VersionTimestamped
	h, _ := env.Alg.Hash()
	hh := h.New()
	hh.Write(env.SigningInput())
	der, err := s.Key.Sign(rand.Reader, hh.Sum(nil), h)
	if err != nil {
		t.Fatal(err)
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		t.Fatal(err)
	}
	if n := s.Cert.PublicKey.(*ecdsa.PublicKey).Curve.Params().N; rs.S.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		rs.S.Sub(n, rs.S) // version 2 is low-S
	}
	if der, err = asn1.Marshal(rs); err != nil {
		t.Fatal(err)
	}
	env.Sig = base64.StdEncoding.EncodeToString(der)
	env.TST = base64.StdEncoding.EncodeToString(a.Token(t, der, "sha256"))
	return replaceEnvelope(t, sealed, env.Marshal())
}

// A version-2 seal's token gives it a trusted time, shown in its result,
// and its certificates are judged at that time, not at signedAt: a seal
// whose sealer's clock was behind (signedAt before the certificate's
// notBefore) passes on the TSA's time, and fails without a trusted TSA.
func TestTrustedTimeFromToken(t *testing.T) {
	p := newPKI(t)
	a := testtsa.Start(t, testtsa.Options{})
	now := time.Now()
	fresh := testpki.Signer(t, testpki.Leaf(t, p.ca, testpki.Options{CN: "fresh", NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour)}))
	sealed := sealStamped(t, fresh, samples.EventJSON(1, now, "r.wav"), now.Add(-2*time.Minute), a)
	res := check(t, sealed, tsaTrust(p, a))
	if res.Verdict != verify.Passed || res.TrustedTimeSource != verify.SourceSealToken || res.Timestamp == nil {
		t.Fatalf("verdict %s, source %q, timestamp %+v, findings %v", res.Verdict, res.TrustedTimeSource, res.Timestamp, codes(res))
	}
	tt, err := time.Parse(time.RFC3339Nano, res.TrustedTime)
	if err != nil || tt.Before(now.Add(-2*time.Second)) || tt.After(now.Add(10*time.Second)) {
		t.Errorf("trusted time %q (%v), stamped at %v", res.TrustedTime, err, now)
	}
	if res.Timestamp.TSA != a.Cert().Subject.String() || res.Timestamp.Serial == "" || res.Timestamp.Policy == "" {
		t.Errorf("timestamp %+v", res.Timestamp)
	}
	// Not trusted (no TSA anchor): no trusted time; judged at signedAt,
	// when the certificate was not valid yet.
	res = check(t, sealed, p.trust)
	if res.TrustedTime != "" || res.Verdict != verify.Failed || !slices.Contains(codes(res), "cert.notYetValid") {
		t.Errorf("an untrusted token: trusted time %q, verdict %s, findings %v", res.TrustedTime, res.Verdict, codes(res))
	}
}
