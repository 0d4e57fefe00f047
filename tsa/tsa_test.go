package tsa

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/testtsa"
)

// sealSignature returns what tlseal stamps: the DER ECDSA signature of a
// seal.
func sealSignature(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(t.Name()))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func wantReason(t *testing.T, err error, want Reason) {
	t.Helper()
	if got := ReasonOf(err); got != want {
		t.Fatalf("reason %v, want %v; error: %v", got, want, err)
	}
}

// TestOpenSSLTokensVerify: tokens made by openssl (query and reply) over a
// seal's signature verify, and their fields are read as openssl wrote them.
func TestOpenSSLTokensVerify(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  testtsa.Options
		certs int  // embedded certificates
		ess   bool // an ESS signing-certificate attribute
	}{
		{"ecdsa", testtsa.Options{}, 2, true},
		{"rsa", testtsa.Options{RSA: true}, 2, true},
		{"ecdsa/ess-v1", testtsa.Options{ESSCertIDv1: true}, 2, true},
		{"rsa/ess-v1", testtsa.Options{RSA: true, ESSCertIDv1: true}, 2, true},
		{"ecdsa/no-chain", testtsa.Options{NoChain: true}, 1, true},
		{"rsa-pss", testtsa.Options{PSS: true}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testtsa.Start(t, tc.opts)
			sig := sealSignature(t)
			before := time.Now()
			der := a.Token(t, sig, "sha256")
			after := time.Now()
			tok, err := Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(sig)
			for _, o := range []VerifyOptions{{Data: sig, Roots: a.CAPool()}, {Digest: sum[:], Roots: a.CAPool()}} {
				if err := tok.Verify(o); err != nil {
					t.Fatal(err)
				}
			}
			if !tok.Signer.Equal(a.Cert()) {
				t.Errorf("Signer is %s, not the TSA certificate", tok.Signer.Subject)
			}
			if len(tok.Certificates) != tc.certs {
				t.Errorf("%d embedded certificates, want %d", len(tok.Certificates), tc.certs)
			}
			if got := len(tok.signer.essCertIDs) > 0; got != tc.ess {
				t.Errorf("ESS signing-certificate attribute: %v, want %v", got, tc.ess)
			}
			if tok.signer.essCertIDs != nil && tok.signer.essCertIDs[0].v2 == tc.opts.ESSCertIDv1 {
				t.Errorf("ESSCertIDv2 is %v with ESSCertIDv1 %v", tok.signer.essCertIDs[0].v2, tc.opts.ESSCertIDv1)
			}
			if tc.opts.PSS != tok.signer.sigAlg.oid.Equal(oidRSAPSS) {
				t.Errorf("signature algorithm %s", tok.signer.sigAlg.oid)
			}
			if !bytes.Equal(tok.HashedMessage, sum[:]) || tok.Nonce == nil || tok.Ordering ||
				!tok.Policy.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1}) ||
				tok.Accuracy != 1500100*time.Microsecond || tok.TSAName != "CN=tlseal test TSA,O=tlseal tests" ||
				tok.SerialNumber.Sign() <= 0 || !bytes.Equal(tok.Raw, der) {
				t.Errorf("fields: %+v", tok)
			}
			// genTime has milliseconds (clock_precision_digits = 3) and is now.
			if tok.GenTime.Before(before.Add(-time.Second)) || tok.GenTime.After(after.Add(time.Second)) || tok.GenTime.Location() != time.UTC {
				t.Errorf("genTime %v, not between %v and %v", tok.GenTime, before, after)
			}
		})
	}
}

// TestStampVerifiesWithOpenSSL: tokens Client.Stamp obtains from the TSA
// verify here and with openssl ts -verify over the seal's signature.
func TestStampVerifiesWithOpenSSL(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts testtsa.Options
	}{{"ecdsa", testtsa.Options{}}, {"rsa", testtsa.Options{RSA: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			a := testtsa.Start(t, tc.opts)
			sig := sealSignature(t)
			sum := sha256.Sum256(sig)
			tok, err := (&Client{URL: a.URL}).Stamp(context.Background(), sum[:])
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.Verify(VerifyOptions{Data: sig, Roots: a.CAPool()}); err != nil {
				t.Fatal(err)
			}
			if ok, out := a.OpenSSLVerify(t, tok.Raw, sig); !ok {
				t.Fatalf("openssl ts -verify refuses the token:\n%s", out)
			}
			// The token is the ContentInfo alone, not the TimeStampResp.
			if !bytes.HasPrefix(tok.Raw[4:], []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}) {
				t.Errorf("the token does not start with id-signedData: % x", tok.Raw[:16])
			}
			if n := a.Requests(); n != 1 {
				t.Errorf("%d requests", n)
			}
		})
	}
}

// TestVerifyRejects: each check fires on a token from a real TSA that
// fails it, and openssl ts -verify agrees where its rules are the same.
func TestVerifyRejects(t *testing.T) {
	year := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name      string
		opts      testtsa.Options
		hash      string // of the request; default sha256
		otherData bool   // verify against other data
		roots     string // "own" (default), "other" TSA's, "none"
		want      Reason
		opensslOK bool // openssl ts -verify accepts it (against the TSA's own CA)
	}{
		{name: "imprint of other data", otherData: true, want: ReasonImprintMismatch},
		{name: "TSA of another CA", roots: "other", want: ReasonUntrusted},
		{name: "no anchors", roots: "none", want: ReasonUntrusted, opensslOK: true},
		{name: "no EKU", opts: testtsa.Options{EKU: testtsa.EKUNone}, want: ReasonEKU},
		{name: "EKU not critical", opts: testtsa.Options{EKU: testtsa.EKUNonCritical}, want: ReasonEKU},
		{name: "EKU not alone", opts: testtsa.Options{EKU: testtsa.EKUExtra}, want: ReasonEKU},
		{name: "RSA TSA without EKU", opts: testtsa.Options{RSA: true, EKU: testtsa.EKUNone}, want: ReasonEKU},
		{name: "TSA certificate expired", opts: testtsa.Options{NotBefore: year(2020), NotAfter: year(2021)}, want: ReasonTimeOutsideValidity},
		{name: "TSA certificate not yet valid", opts: testtsa.Options{NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}, want: ReasonTimeOutsideValidity},
		// openssl accepts other imprint algorithms; tlseal stamps SHA-256 only.
		{name: "SHA-1 imprint", hash: "sha1", want: ReasonHashAlgorithm, opensslOK: true},
		{name: "SHA-512 imprint", hash: "sha512", want: ReasonHashAlgorithm, opensslOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testtsa.Start(t, tc.opts)
			sig := sealSignature(t)
			hash := tc.hash
			if hash == "" {
				hash = "sha256"
			}
			der := a.Token(t, sig, hash)
			tok, err := Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			data := sig
			if tc.otherData {
				data = append([]byte{0}, sig...)
			}
			opts := VerifyOptions{Data: data, Roots: a.CAPool()}
			checker := a
			switch tc.roots {
			case "other":
				checker = testtsa.Start(t, testtsa.Options{})
				opts.Roots = checker.CAPool()
			case "none":
				opts.Roots = nil
			}
			err = tok.Verify(opts)
			wantReason(t, err, tc.want)
			t.Log(err)
			if ok, out := checker.OpenSSLVerify(t, der, data); ok != tc.opensslOK {
				t.Errorf("openssl ts -verify: %v, want %v\n%s", ok, tc.opensslOK, out)
			}
		})
	}
}

// TestByteFlips edits a real token one byte at a time: no edit passes,
// and an edit of the TSTInfo is a bad signature or a malformed token.
func TestByteFlips(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts testtsa.Options
	}{
		{"ecdsa/no-chain", testtsa.Options{NoChain: true}},
		{"ecdsa/chain", testtsa.Options{}},
		{"rsa-pss/no-chain", testtsa.Options{PSS: true, NoChain: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testtsa.Start(t, tc.opts)
			sig := sealSignature(t)
			der := a.Token(t, sig, "sha256")
			tok, err := Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			opts := VerifyOptions{Data: sig, Roots: a.CAPool()}
			if err := tok.Verify(opts); err != nil {
				t.Fatal(err)
			}
			tst, tstLen := bytes.Index(der, tok.TSTInfo), len(tok.TSTInfo)
			// The CA's copy in the token is not signed by the TSA nor used:
			// the anchor comes from Roots. Editing it may pass.
			ca := bytes.Index(der, a.CACert().Raw)
			counts := map[string]int{}
			for i := range der {
				for _, mask := range []byte{0x01, 0x80, 0xff} {
					mod := bytes.Clone(der)
					mod[i] ^= mask
					tok, err := Parse(mod)
					if err == nil {
						err = tok.Verify(opts)
					}
					inTST := i >= tst && i < tst+tstLen
					inCA := ca >= 0 && i >= ca && i < ca+len(a.CACert().Raw)
					r := ReasonOf(err)
					switch {
					case err == nil && inCA:
						counts["pass (unused CA copy)"]++
						continue
					case err == nil:
						t.Fatalf("byte %d ^ %#x: the edited token passes", i, mask)
					case inTST && r != ReasonBadSignature && r != ReasonMalformed:
						t.Fatalf("byte %d ^ %#x in the TSTInfo: %v, want a bad signature or a malformed token", i, mask, err)
					}
					counts[r.String()]++
				}
			}
			keys := make([]string, 0, len(counts))
			for k := range counts {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var s []string
			for _, k := range keys {
				s = append(s, fmt.Sprintf("%s: %d", k, counts[k]))
			}
			t.Logf("%d bytes, TSTInfo at %d: %s", len(der), tst, strings.Join(s, ", "))
		})
	}
}

// TestParseStrict: bytes after the token, a content type other than
// id-signedData or id-ct-TSTInfo, and truncations are errors, never
// panics.
func TestParseStrict(t *testing.T) {
	a := testtsa.Start(t, testtsa.Options{})
	der := a.Token(t, sealSignature(t), "sha256")
	replace := func(old, new []byte) []byte {
		if !bytes.Contains(der, old) {
			t.Fatalf("% x not in the token", old)
		}
		return bytes.Replace(der, old, new, 1)
	}
	oidTST := []byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04}
	oidReceipt := []byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x01} // id-ct-receipt
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"trailing byte", append(bytes.Clone(der), 0), "1 bytes follow the token"},
		{"trailing token", append(bytes.Clone(der), der...), "bytes follow the token"},
		{"econtent type", replace(oidTST, oidReceipt), "not id-ct-TSTInfo"},
		{"content type", replace([]byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}, []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}), "not id-signedData"},
		{"empty", nil, "not a DER SEQUENCE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			wantReason(t, err, ReasonMalformed)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want %q", err, tc.want)
			}
		})
	}
	for n := range der {
		if _, err := Parse(der[:n]); ReasonOf(err) != ReasonMalformed {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
}
