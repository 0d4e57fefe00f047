package timeline_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/timeline"
)

func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"alg":"ES256","certPem":"x","kind":"json","name":"n","sha256":"` + string(bytes.Repeat([]byte("a"), 64)) + `","sig":"","signedAt":"2026-11-27T10:00:00.123Z","size":1,"v":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := timeline.ParseEnvelope(data)
		if err != nil {
			return
		}
		// What parses re-serializes to something that parses to the same.
		again, err := timeline.ParseEnvelope(e.Marshal())
		if err != nil {
			t.Fatalf("re-parse of %s: %v", e.Marshal(), err)
		}
		if !bytes.Equal(again.Marshal(), e.Marshal()) {
			t.Fatalf("round trip differs:\n%s\n%s", again.Marshal(), e.Marshal())
		}
	})
}

// FuzzSealOpen: whatever can be sealed opens without problems and gives the
// original back; whatever cannot be sealed is refused with a typed error.
func FuzzSealOpen(f *testing.F) {
	for _, c := range roundTripCases {
		f.Add(c)
	}
	f.Add([]byte("RIFF"))
	signer := testSigner(f)
	f.Fuzz(func(t *testing.T, orig []byte) {
		var out memfile.File
		_, err := timeline.Seal(&out, bytes.NewReader(orig), int64(len(orig)), timeline.SealOptions{Name: "f", Signer: signer, Time: fixedTime})
		if err != nil {
			var te *timeline.Error
			if !asError(err, &te) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		o, err := timeline.Open(bytes.NewReader(out.Bytes()), int64(len(out.Bytes())))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range o.Problems {
			switch p.Code {
			case "seal.missing", "seal.malformed", "seal.multiple", "seal.notLast", "seal.offsetMismatch",
				"content.sizeMismatch", "content.digestMismatch", "json.invalid", "json.spliceInvalid",
				"riff.sealedSizeMismatch", "riff.sealPadNonZero":
				t.Fatalf("problem %s: %s", p.Code, p.Detail)
			}
		}
		r, err := o.Original()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(r)
		if !bytes.Equal(got, orig) {
			t.Fatalf("original not restored")
		}
	})
}

// FuzzOpen: arbitrary bytes never crash Open.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"seal":{}}`))
	f.Add([]byte("RIFF\x14\x00\x00\x00WAVEseal\x02\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := timeline.Open(bytes.NewReader(data), int64(len(data)))
		if err == nil && o.HasOriginal {
			if r, err := o.Original(); err == nil {
				io.Copy(io.Discard, r)
			}
		}
	})
}
