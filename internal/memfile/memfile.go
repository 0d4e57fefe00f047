// Package memfile is an in-memory file: the io.WriteSeeker that
// timeline.Seal writes to, for the tests, benchmarks and fixture tools
// that keep sealed bytes in memory instead of on disk.
package memfile

import (
	"errors"
	"fmt"
	"io"
)

// File is a growable byte slice with a write offset. Writing past the end
// fills the gap with zeros, as a file does. The zero value is empty.
type File struct {
	buf []byte
	off int64
}

// Write writes p at the offset and advances it.
func (f *File) Write(p []byte) (int, error) {
	if end := f.off + int64(len(p)); end > int64(len(f.buf)) {
		f.buf = append(f.buf, make([]byte, end-int64(len(f.buf)))...)
	}
	copy(f.buf[f.off:], p)
	f.off += int64(len(p))
	return len(p), nil
}

// Seek sets the offset for the next Write.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += int64(len(f.buf))
	default:
		return 0, fmt.Errorf("memfile: invalid whence %d", whence)
	}
	if offset < 0 {
		return 0, errors.New("memfile: negative offset")
	}
	f.off = offset
	return offset, nil
}

// Bytes returns the content (not a copy).
func (f *File) Bytes() []byte { return f.buf }
