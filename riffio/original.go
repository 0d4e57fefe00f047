package riffio

import (
	"encoding/binary"
	"io"
)

// Original presents the original bytes of a sealed RIFF file: the sealed
// file's bytes [0, size) with the header's size field put back to riffSize.
// It reads through to the sealed file; nothing is copied.
type Original struct {
	sealed   io.ReaderAt
	size     int64
	riffSize [4]byte
}

// NewOriginal returns the original of a sealed file whose envelope says
// size and riffSize.
func NewOriginal(sealed io.ReaderAt, size int64, riffSize uint32) *Original {
	o := &Original{sealed: sealed, size: size}
	binary.LittleEndian.PutUint32(o.riffSize[:], riffSize)
	return o
}

// Size is the original's length.
func (o *Original) Size() int64 { return o.size }

// ReadAt implements io.ReaderAt over the original bytes.
func (o *Original) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := p
	if rest := o.size - off; int64(len(p)) > rest {
		want = p[:rest]
	}
	n, err := o.sealed.ReadAt(want, off)
	// Overlay the original size field on whatever part of [4,8) was read.
	for i := max(off, 4); i < min(off+int64(n), 8); i++ {
		p[i-off] = o.riffSize[i-4]
	}
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}
