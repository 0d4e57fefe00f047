package timeline_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
)

var fixedTime = time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)

func sealBytes(t testing.TB, s *timeline.Signer, name string, orig []byte) ([]byte, *timeline.Sealed, error) {
	t.Helper()
	var out memfile.File
	res, err := timeline.Seal(&out, bytes.NewReader(orig), int64(len(orig)), timeline.SealOptions{Name: name, Signer: s, Time: fixedTime})
	if err != nil {
		return nil, nil, err
	}
	if int64(len(out.Bytes())) != res.SealedSize {
		t.Fatalf("sealed size %d, result says %d", len(out.Bytes()), res.SealedSize)
	}
	return out.Bytes(), res, nil
}

func testSigner(t testing.TB) *timeline.Signer {
	ca := testpki.CA(t, testpki.Options{})
	return testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{}))
}

func asError(err error, target any) bool { return errors.As(err, target) }
