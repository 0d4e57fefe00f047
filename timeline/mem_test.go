package timeline_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
)

// memFile is an in-memory io.WriteSeeker (what Seal writes to).
type memFile struct {
	buf []byte
	off int64
}

func (m *memFile) Write(p []byte) (int, error) {
	end := m.off + int64(len(p))
	if end > int64(len(m.buf)) {
		m.buf = append(m.buf, make([]byte, end-int64(len(m.buf)))...)
	}
	copy(m.buf[m.off:], p)
	m.off = end
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		m.off = off
	case io.SeekCurrent:
		m.off += off
	case io.SeekEnd:
		m.off = int64(len(m.buf)) + off
	}
	if m.off < 0 {
		return 0, errors.New("negative offset")
	}
	return m.off, nil
}

var fixedTime = time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)

func sealBytes(t testing.TB, s *timeline.Signer, name string, orig []byte) ([]byte, *timeline.Sealed, error) {
	t.Helper()
	var out memFile
	res, err := timeline.Seal(&out, bytes.NewReader(orig), int64(len(orig)), timeline.SealOptions{Name: name, Signer: s, Time: fixedTime})
	if err != nil {
		return nil, nil, err
	}
	if int64(len(out.buf)) != res.SealedSize {
		t.Fatalf("sealed size %d, result says %d", len(out.buf), res.SealedSize)
	}
	return out.buf, res, nil
}

func testSigner(t testing.TB) *timeline.Signer {
	ca := testpki.CA(t, testpki.Options{})
	return testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{}))
}

func asError(err error, target any) bool { return errors.As(err, target) }
