package timeline_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
)

func riffFile(chunks ...string) []byte {
	body := "WAVE" + strings.Join(chunks, "")
	b := []byte("RIFF\x00\x00\x00\x00" + body)
	n := len(b) - 8
	b[4], b[5], b[6], b[7] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	return b
}

func chunk(id string, data string) string {
	n := len(data)
	s := id + string([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}) + data
	if n%2 == 1 {
		s += "\x00"
	}
	return s
}

var roundTripCases = map[string][]byte{
	"empty object":        []byte(`{}`),
	"empty object spaced": []byte(" { \n } \n"),
	"one member":          []byte(`{"a":1}`),
	"engage event": []byte(`{"id":"e1","groupId":"g1","type":1,"direction":2,"started":1764237600000,` +
		`"ended":1764237605000,"alias":"Unit 7","nodeId":"n-42","audio":{"ms":5000,"samples":40000},"uri":"file:///x.wav"}`),
	"bom":                  []byte("\xEF\xBB\xBF{\"a\":1}"),
	"crlf":                 []byte("{\r\n  \"a\": 1,\r\n  \"b\": [1, 2]\r\n}\r\n"),
	"unicode and escapes":  []byte(`{"name":"Zoë ✓ \u00e9\n\"q\"\\","emoji":"😀","ctl":"\u0001"}`),
	"big integers":         []byte(`{"big":123456789012345678901234567890,"neg":-9007199254740993,"f":1.5e-300}`),
	"duplicate keys":       []byte(`{"a":1,"a":2}`),
	"trailing whitespace":  []byte("{\"a\":true}   \t\n\n"),
	"whitespace before }":  []byte("{\"a\":null  \n}"),
	"nested":               []byte(`{"a":{"b":[{"c":[]},{}],"d":"}"}}`),
	"deep nesting":         []byte(`{"d":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`),
	"riff minimal":         riffFile(),
	"riff odd chunk":       riffFile(chunk("fmt ", strings.Repeat("x", 16)), chunk("odd ", "abc")),
	"riff odd size file":   append(riffFile(chunk("fmt ", strings.Repeat("x", 16))), 'z'),
	"riff wrong size":      func() []byte { b := riffFile(chunk("data", "abcd")); b[4] = 99; return b }(),
	"riff placeholder":     func() []byte { b := riffFile(chunk("data", "abcd")); copy(b[4:], "\xff\xff\xff\xff"); return b }(),
	"riff truncated chunk": []byte("RIFF\x20\x00\x00\x00WAVEdata\x00\x10\x00\x00abc"),
}

func TestSealOpenRoundTrip(t *testing.T) {
	s := testSigner(t)
	for name, orig := range roundTripCases {
		t.Run(name, func(t *testing.T) {
			sealed, res, err := sealBytes(t, s, "dir/"+name, orig)
			if err != nil {
				t.Fatal(err)
			}
			o, err := timeline.Open(bytes.NewReader(sealed), int64(len(sealed)))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range o.Problems {
				if strings.HasPrefix(p.Code, "seal.") || strings.HasPrefix(p.Code, "content.") || p.Code == "json.spliceInvalid" || p.Code == "json.invalid" {
					t.Errorf("unexpected problem %s: %s", p.Code, p.Detail)
				}
			}
			if !bytes.Equal(o.EnvelopeBytes, res.EnvelopeBytes) {
				t.Errorf("envelope bytes differ")
			}
			r, err := o.Original()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r)
			if !bytes.Equal(got, orig) {
				t.Fatalf("original not restored:\n got %q\nwant %q", got, orig)
			}
			sum := sha256.Sum256(orig)
			if o.Envelope.SHA256 != hex.EncodeToString(sum[:]) || o.Envelope.Size != int64(len(orig)) {
				t.Errorf("envelope digest/size wrong")
			}
			if _, err := timeline.VerifySignature(o.Envelope); err != nil {
				t.Errorf("signature: %v", err)
			}
			// Sealing again is refused.
			if _, _, err := sealBytes(t, s, "x", sealed); !isReason(err, timeline.ReasonAlreadySealed) {
				t.Errorf("resealing: got %v, want already sealed", err)
			}
		})
	}
}

func isReason(err error, r timeline.Reason) bool {
	var te *timeline.Error
	return errors.As(err, &te) && te.Reason == r
}

func TestSealRefuses(t *testing.T) {
	s := testSigner(t)
	cases := []struct {
		name string
		in   string
		want timeline.Reason
	}{
		{"array", `[1,2]`, timeline.ReasonNotObject},
		{"string", `"x"`, timeline.ReasonNotObject},
		{"number", `12`, timeline.ReasonNotObject},
		{"empty file", ``, timeline.ReasonNotTimeline},
		{"only whitespace", "  \n", timeline.ReasonNotJSON},
		{"binary", "\x00\x01\x02", timeline.ReasonNotTimeline},
		{"text", "hello", timeline.ReasonNotTimeline},
		{"already sealed json", `{"a":1,"seal":{}}`, timeline.ReasonAlreadySealed},
		{"escaped seal key", `{"se\u0061l":1}`, timeline.ReasonAlreadySealed},
		{"unterminated", `{"a":1`, timeline.ReasonNotJSON},
		{"bad value", `{"a":}`, timeline.ReasonNotJSON},
		{"two objects", `{}{}`, timeline.ReasonNotJSON},
		{"trailing comma", `{"a":1,}`, timeline.ReasonNotJSON},
		{"control char in string", "{\"a\":\"\x01\"}", timeline.ReasonNotJSON},
		{"leading zero", `{"a":01}`, timeline.ReasonNotJSON},
		{"riff short", "RIFF\x04\x00\x00\x00WA", timeline.ReasonNotRIFF},
		{"rf64", "RF64\xff\xff\xff\xffWAVEds64", timeline.ReasonTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := sealBytes(t, s, "x", []byte(c.in))
			if !isReason(err, c.want) {
				t.Fatalf("got %v, want reason %q", err, c.want)
			}
		})
	}
}

// A recording large enough for the pipelined copy (hashing on its own
// goroutine, writeback started early) seals to the same digest and comes
// back byte for byte, odd size included.
func TestSealLargeRecording(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "big.wav")
	data := make([]byte, 9<<20+3)
	rand.Read(data[44:])
	copy(data, riffFile(chunk("data", ""))) // a header; its sizes disagree with the length, as cut recordings do
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := timeline.SealFile(in, in+".sealed", false, timeline.SealOptions{Name: "big.wav", Signer: testSigner(t)})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if res.Envelope.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatal("digest of the pipelined copy is wrong")
	}
	f, _ := os.Open(in + ".sealed")
	defer f.Close()
	st, _ := f.Stat()
	o, err := timeline.Open(f, st.Size())
	if err != nil || o.Has(timeline.CodeDigestMismatch) || !o.HasOriginal {
		t.Fatalf("open: %v %+v", err, o.Problems)
	}
	r, _ := o.Original()
	got, _ := io.ReadAll(r)
	if !bytes.Equal(got, data) {
		t.Fatal("original differs")
	}
}

// TestParseEnvelopeMembers: unknown, repeated and missing members are
// refused, each with its own message; escapes in strings round-trip.
func TestParseEnvelopeMembers(t *testing.T) {
	valid := `"alg":"ES256","certPem":"a\nb\"c\u0001","kind":"json","name":"n\u00e9","sha256":"` + strings.Repeat("a", 64) + `","sig":"","signedAt":"2026-11-27T10:00:00.123Z","size":1,"v":1`
	e, err := timeline.ParseEnvelope([]byte("{" + valid + "}"))
	if err != nil {
		t.Fatal(err)
	}
	if e.CertPEM != "a\nb\"c\x01" || e.Name != "né" {
		t.Errorf("certPem %q name %q", e.CertPEM, e.Name)
	}
	if got, want := string(e.Marshal()), "{"+strings.Replace(valid, `\u00e9`, "é", 1)+"}"; got != want {
		t.Errorf("marshal %s", got)
	}
	for in, want := range map[string]string{
		"{" + valid + `,"x":1}`:                                     `unknown member "x"`,
		"{" + valid + `,"size":2}`:                                  `duplicate member "size"`,
		"{" + strings.Replace(valid, `"kind":"json",`, "", 1) + "}": `member "kind" is missing`,
		"{" + strings.Replace(valid, `.123Z`, `.1Z`, 1) + "}":       `member "signedAt"`,
	} {
		if _, err := timeline.ParseEnvelope([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

// Version 2 is version 1 plus tst, and nothing else: tst exactly in
// version 2, canonical standard base64, not part of the signing input,
// between size and v in the envelope bytes.
func TestParseEnvelopeVersion2(t *testing.T) {
	base := `"alg":"ES256","certPem":"c","kind":"json","name":"n","sha256":"` + strings.Repeat("a", 64) + `","sig":"","signedAt":"2026-11-27T10:00:00.123Z","size":1`
	v2 := "{" + base + `,"tst":"MAMCAQE=","v":2}`
	e, err := timeline.ParseEnvelope([]byte(v2))
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Marshal()) != v2 {
		t.Errorf("marshal %s", e.Marshal())
	}
	if tok := e.Token(); !bytes.Equal(tok, []byte{0x30, 0x03, 0x02, 0x01, 0x01}) {
		t.Errorf("token %x", tok)
	}
	// Token keeps what ParseEnvelope decoded, but only for the tst it was
	// decoded from.
	e2 := *e
	e2.TST = "MAMCAQI="
	if tok := e2.Token(); !bytes.Equal(tok, []byte{0x30, 0x03, 0x02, 0x01, 0x02}) {
		t.Errorf("token of a changed tst %x", tok)
	}
	if si := string(e.SigningInput()); strings.Contains(si, "tst") || strings.Contains(si, `"sig"`) || !strings.HasSuffix(si, `"size":1,"v":2}`) {
		t.Errorf("signing input %s", si)
	}
	for in, want := range map[string]string{
		"{" + base + `,"v":2}`:                    "version 2 without tst",
		"{" + base + `,"tst":"MAMCAQE=","v":1}`:   "version-1 seal cannot carry it",
		"{" + base + `,"tst":"","v":2}`:           `member "tst": empty`,
		"{" + base + `,"tst":"MAMCAQE","v":2}`:    "not standard base64",
		"{" + base + `,"tst":"MAMC\nAQE=","v":2}`: "not canonical base64",
		"{" + base + `,"tst":"MAMCAQF=","v":2}`:   "not standard base64",
		"{" + base + `,"tst":1,"v":2}`:            `member "tst": not a string`,
		"{" + base + `,"tst":"MAMCAQE=","v":3}`:   "version 3 is not supported",
	} {
		if _, err := timeline.ParseEnvelope([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

// A Timestamp hook makes a version-2 seal whose token is over the DER
// signature; a hook that fails fails the seal (ReasonTimestamp); one that
// returns no token makes a version-1 seal.
func TestSealWithTimestamp(t *testing.T) {
	signer := testpki.Signer(t, testpki.Leaf(t, testpki.CA(t, testpki.Options{}), testpki.Options{}))
	for name, data := range map[string][]byte{"json": []byte(`{"a":1}`), "riff": samples.WAV(8000, 0.01, 440)} {
		t.Run(name, func(t *testing.T) {
			var gotSig, token []byte
			is := goldenTSA(t)
			issue := func(sig []byte, at time.Time) []byte {
				sum := sha256.Sum256(sig)
				tok, err := is.Issue(sum[:], at, big.NewInt(1), nil)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			var out memfile.File
			sealed, err := timeline.Seal(&out, bytes.NewReader(data), int64(len(data)), timeline.SealOptions{Name: "x", Signer: signer,
				Timestamp: func(sig []byte) ([]byte, error) {
					gotSig, token = sig, issue(sig, time.Now().Add(time.Second))
					return token, nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			e := sealed.Envelope
			if e.V != timeline.VersionTimestamped || !bytes.Equal(e.Token(), token) {
				t.Fatalf("v %d token %x", e.V, e.Token())
			}
			if der, _ := base64.StdEncoding.DecodeString(e.Sig); !bytes.Equal(der, gotSig) {
				t.Error("the hook was not given the DER signature")
			}
			if _, err := timeline.VerifySignature(e); err != nil {
				t.Errorf("the v2 seal's signature: %v", err)
			}
			o, err := timeline.Open(bytes.NewReader(out.Bytes()), int64(len(out.Bytes())))
			if err != nil || len(o.Problems) > 0 || o.Envelope.TST != e.TST {
				t.Fatalf("open: %v %+v", err, o)
			}

			out = memfile.File{}
			_, err = timeline.Seal(&out, bytes.NewReader(data), int64(len(data)), timeline.SealOptions{Name: "x", Signer: signer,
				Timestamp: func([]byte) ([]byte, error) { return nil, errors.New("TSA down") }})
			var te *timeline.Error
			if !errors.As(err, &te) || te.Reason != timeline.ReasonTimestamp || !strings.Contains(err.Error(), "TSA down") {
				t.Errorf("a failing TSA: %v", err)
			}
			// A token that would make the seal fail forever is refused,
			// nothing written: not a token, or dated before signedAt
			// beyond its accuracy (this clock ahead of the TSA's).
			for what, tok := range map[string]func(sig []byte) []byte{
				"not a token":          func([]byte) []byte { return []byte{0x30, 0x03, 0x02, 0x01, 0x07} },
				"dated before signing": func(sig []byte) []byte { return issue(sig, time.Now().Add(-time.Minute)) },
			} {
				out = memfile.File{}
				_, err = timeline.Seal(&out, bytes.NewReader(data), int64(len(data)), timeline.SealOptions{Name: "x", Signer: signer,
					Timestamp: func(sig []byte) ([]byte, error) { return tok(sig), nil }})
				if !errors.As(err, &te) || te.Reason != timeline.ReasonTimestamp {
					t.Errorf("%s: %v", what, err)
				}
			}
			out = memfile.File{}
			sealed, err = timeline.Seal(&out, bytes.NewReader(data), int64(len(data)), timeline.SealOptions{Name: "x", Signer: signer,
				Timestamp: func([]byte) ([]byte, error) { return nil, nil }})
			if err != nil || sealed.Envelope.V != timeline.Version || sealed.Envelope.TST != "" {
				t.Errorf("no token: %v %+v", err, sealed)
			}
		})
	}
}
