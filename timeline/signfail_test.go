package timeline_test

import (
	"bytes"
	"crypto"
	"errors"
	"io"
	"testing"

	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
)

// failingKey is a key whose signer is away (a token removed).
type failingKey struct{ crypto.Signer }

func (k failingKey) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("the token is away")
}

// A key that does not sign fails the seal with ReasonSign (which the
// watcher holds back on), for both kinds, and nothing is called sealed.
func TestSealSignerFails(t *testing.T) {
	leaf := testpki.Leaf(t, testpki.CA(t, testpki.Options{}), testpki.Options{})
	s, err := timeline.NewSigner(leaf.Cert, nil, failingKey{leaf.Key})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"json": []byte(`{"a":1}`), "riff": samples.WAV(8000, 0.01, 440)} {
		var out memfile.File
		sealed, err := timeline.Seal(&out, bytes.NewReader(data), int64(len(data)), timeline.SealOptions{Name: "x", Signer: s})
		var te *timeline.Error
		if sealed != nil || !errors.As(err, &te) || te.Reason != timeline.ReasonSign || !bytes.Contains([]byte(err.Error()), []byte("the token is away")) {
			t.Errorf("%s: got %v, %v; want reason %v", name, sealed, err, timeline.ReasonSign)
		}
	}
}
