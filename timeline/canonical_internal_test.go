package timeline

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/p256verify"
)

// testLeaf is a self-signed certificate and its key (testpki imports this
// package, so internal tests make their own).
type testLeafCert struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

func testLeaf(t *testing.T, curve elliptic.Curve) testLeafCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "internal test signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testLeafCert{cert, key}
}

// The twins (r, s) and (r, n−s): tlseal signs low-S only; a version-1 seal
// with the high-S twin verifies (and HighS says so), a version-2 one is
// refused with signature.encoding.
func TestLowSRule(t *testing.T) {
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		leaf := testLeaf(t, curve)
		s, err := NewSigner(leaf.Cert, nil, leaf.Key)
		if err != nil {
			t.Fatal(err)
		}
		for v := 1; v <= 2; v++ {
			for range 8 { // randomized signatures: both halves come up
				e := &Envelope{V: v, Kind: KindJSON, Name: "x.json", SHA256: strings.Repeat("0", 64), SignedAt: time.Now().UTC().Truncate(time.Millisecond)}
				if err := s.sign(e); err != nil {
					t.Fatal(err)
				}
				pub := leaf.Cert.PublicKey.(*ecdsa.PublicKey)
				if HighS(e, pub) {
					t.Fatalf("%s: the signer wrote a high-S signature", curve.Params().Name)
				}
				if err := VerifySignatureWith(e, leaf.Cert); err != nil {
					t.Fatal(err)
				}
				twin := *e
				twin.Sig = highTwin(t, pub, e.Sig)
				if !HighS(&twin, pub) {
					t.Fatal("the twin is not high-S")
				}
				err := VerifySignatureWith(&twin, leaf.Cert)
				switch {
				case v == 1 && err != nil:
					t.Errorf("v1 high-S twin refused: %v", err)
				case v == 2 && (err == nil || SignatureCode(err) != CodeSignatureEncoding):
					t.Errorf("v2 high-S twin: %v, want signature.encoding", err)
				}
			}
		}
	}
}

func highTwin(t *testing.T, pub *ecdsa.PublicKey, sig string) string {
	_, r, s, err := decodeSig(sig)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(encodeSig(r, new(big.Int).Sub(pub.Curve.Params().N, s)))
}

// Every other byte form of a valid signature is refused: line breaks the
// base64 decoder would skip, missing padding, non-minimal DER lengths and
// integers, trailing bytes, BER indefinite length.
func TestSignatureOneByteForm(t *testing.T) {
	leaf := testLeaf(t, elliptic.P256())
	s, _ := NewSigner(leaf.Cert, nil, leaf.Key)
	e := &Envelope{V: 1, Kind: KindJSON, Name: "x.json", SHA256: strings.Repeat("0", 64), SignedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := s.sign(e); err != nil {
		t.Fatal(err)
	}
	der, _ := base64.StdEncoding.DecodeString(e.Sig)
	// der = 30 L 02 Lr r 02 Ls s (P-256: short lengths).
	lr := int(der[3])
	rBytes, sBytes := der[4:4+lr], der[4+lr+2:]
	seq := func(body []byte) []byte { return append([]byte{0x30, byte(len(body))}, body...) }
	intOf := func(b []byte) []byte { return append([]byte{0x02, byte(len(b))}, b...) }
	cases := map[string]string{
		"line break":        e.Sig[:10] + "\n" + e.Sig[10:],
		"CRLF at the end":   e.Sig + "\r\n",
		"no padding":        strings.TrimRight(e.Sig, "="),
		"url alphabet":      base64.URLEncoding.EncodeToString(der),
		"long-form length":  base64.StdEncoding.EncodeToString(append([]byte{0x30, 0x81, der[1]}, der[2:]...)),
		"leading zero in r": base64.StdEncoding.EncodeToString(seq(append(intOf(append([]byte{0}, rBytes...)), intOf(sBytes)...))),
		"trailing byte":     base64.StdEncoding.EncodeToString(append(append([]byte{}, der...), 0)),
		"trailing inside":   base64.StdEncoding.EncodeToString(seq(append(append(intOf(rBytes), intOf(sBytes)...), 0x05, 0x00))),
		"indefinite BER":    base64.StdEncoding.EncodeToString(append(append([]byte{0x30, 0x80}, der[2:]...), 0, 0)),
	}
	if strings.Contains(e.Sig, "+") || strings.Contains(e.Sig, "/") {
		// The URL alphabet differs only where these occur.
	} else {
		delete(cases, "url alphabet")
	}
	for name, sig := range cases {
		x := *e
		x.Sig = sig
		if err := VerifySignatureWith(&x, leaf.Cert); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := VerifySignatureWith(e, leaf.Cert); err != nil {
		t.Fatalf("the original: %v", err)
	}
}

// certPem and chainPem in any other byte form than encoding/pem writes are
// not canonical, although encoding/pem reads them all.
func TestCanonicalPEM(t *testing.T) {
	leaf := testLeaf(t, elliptic.P256())
	good := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Cert.Raw}))
	body := strings.TrimSuffix(strings.TrimPrefix(good, "-----BEGIN CERTIFICATE-----\n"), "-----END CERTIFICATE-----\n")
	oneLine := "-----BEGIN CERTIFICATE-----\n" + strings.ReplaceAll(body, "\n", "") + "\n-----END CERTIFICATE-----\n"
	if !canonicalPEM(good, 1, 1) || !canonicalPEM(good+good, 0, -1) || !canonicalPEM("", 0, -1) {
		t.Fatal("the sealer's own form is refused")
	}
	for name, s := range map[string]string{
		"text before":      "subject=CN x\n" + good,
		"text after":       good + "trailing\n",
		"blank line after": good + "\n",
		"no final newline": strings.TrimSuffix(good, "\n"),
		"CRLF":             strings.ReplaceAll(good, "\n", "\r\n"),
		"one long line":    oneLine,
		"a header":         strings.Replace(good, "-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1),
		"two certificates": good + good,
		"no certificate":   "",
		"another PEM type": strings.ReplaceAll(good, "CERTIFICATE", "X509 CERTIFICATE"),
		"padding bits":     flipPadBits(t, good),
	} {
		if canonicalPEM(s, 1, 1) {
			t.Errorf("certPem %s: accepted", name)
		}
	}
	if canonicalPEM(good+"between\n"+good, 0, -1) {
		t.Error("chainPem with text between the blocks: accepted")
	}
}

// flipPadBits changes the last base64 character before the padding so
// that only unused bits differ: the same DER, another text.
func flipPadBits(t *testing.T, p string) string {
	i := strings.Index(p, "=")
	if i < 0 {
		t.Skip("this certificate's base64 has no padding")
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	c := strings.IndexByte(alphabet, p[i-1])
	return p[:i-1] + string(alphabet[c^1]) + p[i:]
}

// Many seals of one signer: from its 64th seal on, the signature is checked
// with internal/p256verify's table of the signer's key. Every seal verifies,
// and each with the signature of its neighbour, or with its name changed,
// is refused as signature.invalid, on both sides of the table's build.
func TestSignatureManySealsOneSigner(t *testing.T) {
	if fips140.Enabled() {
		t.Skip("FIPS 140-3 mode: crypto/ecdsa verifies every signature, no table is built")
	}
	leaf := testLeaf(t, elliptic.P256())
	s, err := NewSigner(leaf.Cert, nil, leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	envs := make([]*Envelope, n)
	for i := range envs {
		e := &Envelope{V: 2, Kind: KindJSON, Name: fmt.Sprintf("event-%03d.json", i), SHA256: strings.Repeat("0", 64), SignedAt: time.Now().UTC().Truncate(time.Millisecond)}
		if err := s.sign(e); err != nil {
			t.Fatal(err)
		}
		envs[i] = e
	}
	check := func(i int) {
		e := envs[i]
		if err := VerifySignatureWith(e, leaf.Cert); err != nil {
			t.Fatalf("seal %d: %v", i, err)
		}
		swapped := *e
		swapped.Sig = envs[(i+1)%n].Sig
		if err := VerifySignatureWith(&swapped, leaf.Cert); err == nil || SignatureCode(err) != CodeSignatureInvalid {
			t.Fatalf("seal %d with its neighbour's signature: %v, want signature.invalid", i, err)
		}
		renamed := *e
		renamed.Name = "other.json"
		if err := VerifySignatureWith(&renamed, leaf.Cert); err == nil || SignatureCode(err) != CodeSignatureInvalid {
			t.Fatalf("seal %d renamed: %v, want signature.invalid", i, err)
		}
	}
	for i := range n {
		check(i)
	}
	pub := leaf.Cert.PublicKey.(*ecdsa.PublicKey)
	for deadline := time.Now().Add(10 * time.Second); !p256verify.HasTable(pub); {
		if time.Now().After(deadline) {
			t.Fatal("no table for a signer verified 400 times")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range n {
		check(i)
	}
}
