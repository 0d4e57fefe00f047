package tsa

import (
	"bytes"
	"os/exec"
	"reflect"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/tlseal/tlseal/internal/testtsa"
)

// realTokens returns tokens of real TSAs for seeds: the committed vector
// and, with openssl, tokens of an RSA, an RSA-PSS and a chain-less TSA.
func realTokens(f *testing.F) [][]byte {
	toks := [][]byte{readTestdata(f, "token.der")}
	if _, err := exec.LookPath("openssl"); err == nil {
		for _, o := range []testtsa.Options{{RSA: true}, {PSS: true}, {NoChain: true, ESSCertIDv1: true}} {
			toks = append(toks, testtsa.Start(f, o).Token(f, []byte("seed"), "sha256"))
		}
	}
	return toks
}

// FuzzParse: Parse never panics, fails only as malformed, and a token it
// reads reads the same again; with the committed vector's anchor nothing
// but the TSA's own TSTInfo verifies.
func FuzzParse(f *testing.F) {
	for _, tok := range realTokens(f) {
		f.Add(tok)
		f.Add(tok[:len(tok)/2])
	}
	golden, err := Parse(readTestdata(f, "token.der"))
	if err != nil {
		f.Fatal(err)
	}
	opts := VerifyOptions{Digest: golden.HashedMessage, Roots: goldenRoots(f)}
	f.Fuzz(func(t *testing.T, der []byte) {
		tok, err := Parse(der)
		if err != nil {
			if ReasonOf(err) != ReasonMalformed {
				t.Fatalf("Parse: %v, not malformed", err)
			}
			return
		}
		if !bytes.Equal(tok.Raw, der) {
			t.Fatal("Raw is not the input")
		}
		again, err := Parse(tok.Raw)
		if err != nil || !reflect.DeepEqual(tok, again) {
			t.Fatalf("a second Parse differs: %v", err)
		}
		err = tok.Verify(opts)
		if err == nil && (!bytes.Equal(tok.TSTInfo, golden.TSTInfo) || !tok.Signer.Equal(golden.Signer)) {
			t.Fatal("a TSTInfo the TSA did not sign verifies")
		}
		if err != nil && ReasonOf(err) == ReasonUnknown {
			t.Fatalf("Verify: %v has no Reason", err)
		}
	})
}

// statusResponse is a TimeStampResp with a status, a statusString and a
// failInfo, without a token.
func statusResponse(status int64, text string, failInfo []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(status)
			if text != "" {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(text)) })
				})
			}
			b.AddBytes(failInfo)
		})
	})
	return b.BytesOrPanic()
}

// FuzzParseResponse: ParseResponse never panics, fails only as malformed
// or as a refusal, and the token it returns is in the response and parses
// the same on its own.
func FuzzParseResponse(f *testing.F) {
	f.Add(readTestdata(f, "response.der"))
	f.Add(statusResponse(2, "Message digest algorithm is not supported.", []byte{0x03, 0x02, 0x07, 0x80}))
	f.Add(statusResponse(0, "", nil))
	f.Add(statusResponse(3, "", []byte{0x03, 0x05, 0x06, 0x20, 0x07, 0x00, 0x40}))
	for _, tok := range realTokens(f) {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64(1) })
			b.AddBytes(tok)
		})
		f.Add(b.BytesOrPanic())
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		tok, err := ParseResponse(der)
		if err != nil {
			if r := ReasonOf(err); r != ReasonMalformed && r != ReasonStatus {
				t.Fatalf("ParseResponse: %v", err)
			}
			return
		}
		if !bytes.Contains(der, tok.Raw) {
			t.Fatal("the token is not in the response")
		}
		again, err := Parse(bytes.Clone(tok.Raw))
		if err != nil || !reflect.DeepEqual(tok, again) {
			t.Fatalf("the token parses differently on its own: %v", err)
		}
	})
}

// TestParseResponseStatus: refusals name their status, failure and text.
func TestParseResponseStatus(t *testing.T) {
	for _, tc := range []struct {
		in     []byte
		reason Reason
		detail string
	}{
		{statusResponse(2, "no", []byte{0x03, 0x02, 0x07, 0x80}), ReasonStatus, `rejection (2); failure: badAlg (unrecognized or unsupported algorithm); text: "no"`},
		{statusResponse(3, "", nil), ReasonStatus, "waiting (3)"},
		{statusResponse(9, "", []byte{0x03, 0x02, 0x06, 0x40}), ReasonStatus, "unknown status 9; failure: failure bit 1"},
		{statusResponse(5, "", []byte{0x03, 0x05, 0x06, 0x00, 0x00, 0x00, 0x40}), ReasonStatus, "revocationNotification (5); failure: systemFailure"},
		{statusResponse(0, "", nil), ReasonMalformed, "granted the request but sent no token"},
		{statusResponse(1, "", nil), ReasonMalformed, "granted the request but sent no token"},
		{append(statusResponse(2, "", nil), 0), ReasonMalformed, "1 bytes follow"},
		{statusResponse(2, "", []byte{0x03, 0x02, 0x08, 0x80}), ReasonMalformed, "failInfo"},
	} {
		_, err := ParseResponse(tc.in)
		if ReasonOf(err) != tc.reason || err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.detail)) {
			t.Errorf("% x: %v, want %v %q", tc.in, err, tc.reason, tc.detail)
		}
	}
}
