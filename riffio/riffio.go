// Package riffio is a strict RIFF chunk walker and the seal-chunk codec of
// the tlseal seal format v1.
//
// A RIFF file is "RIFF" + le32(size) + form type + chunks; each chunk is a
// four-character ID, a le32 data size, the data and, when the size is odd,
// one pad byte. Recordings found in the field bend these rules: the header's
// size disagrees with the file (a recording cut short), a chunk declares the
// 0xFFFFFFFF placeholder because its writer never came back to patch it,
// chunks run past the end of the file, pad bytes are missing or non-zero.
// The walker never repairs any of this and never stops silently: each oddity
// is an Issue with a stable code, and the bytes are left as they are.
//
// The package imports no other package of the project.
package riffio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// HeaderSize is the length of "RIFF" + le32 size + form type.
	HeaderSize = 12
	// MaxSize bounds files: seal format v1 covers files below 4 GiB (RIFF
	// sizes are 32-bit); larger recordings use RF64/BW64.
	MaxSize = 1 << 32
	// PlaceholderSize is what streaming writers leave in a size field they
	// intended to patch when the recording ends.
	PlaceholderSize = 0xFFFFFFFF
	// MaxEnvelope bounds the seal chunk's data, so locating it reads at most
	// this much from the end of a file.
	MaxEnvelope = 1 << 20
	// MaxKeptChunks bounds memory on hostile files made of millions of empty
	// chunks (a real recording has a handful): further chunks are counted,
	// not kept (about 0.8 MiB at most).
	MaxKeptChunks = 16384
	// MaxIssues bounds the issues kept of one walk (a hostile file can make
	// one per chunk); further ones are counted in the last.
	MaxIssues = 64
)

// SealID is the chunk ID of the embedded seal.
var SealID = [4]byte{'s', 'e', 'a', 'l'}

// Error reasons for files that are not RIFF as seal format v1 understands it.
var (
	ErrNotRIFF  = errors.New("not a RIFF file (no RIFF header)")
	ErrRF64     = errors.New("RF64/BW64 file: files of 4 GiB and more are outside seal format v1")
	ErrTooLarge = errors.New("file of 4 GiB or more: outside seal format v1 (RIFF sizes are 32-bit)")
	ErrShort    = errors.New("file shorter than a RIFF header (12 bytes)")
)

// Finding codes of the issues reported by Walk. They are findings in the sense of
// docs/findings.md: facts about a file, not failures of the walker.
const (
	CodeSizeMismatch    = "riff.sizeMismatch"    // header size field != file length - 8
	CodePlaceholderSize = "riff.placeholderSize" // a size field holds 0xFFFFFFFF
	CodeTruncatedChunk  = "riff.truncatedChunk"  // a chunk's data runs past the end of the file
	CodeMissingPad      = "riff.missingPad"      // odd-sized chunk followed directly by the next chunk
	CodeNonZeroPad      = "riff.nonZeroPad"      // pad byte is not zero
	CodeInvalidChunkID  = "riff.invalidChunkId"  // bytes where a chunk header should be are not one
	CodeTrailingBytes   = "riff.trailingBytes"   // fewer than 8 bytes left after the last chunk
)

// Issue is one oddity found while walking.
type Issue struct {
	Code   string
	Offset int64
	Detail string
}

// Chunk is one top-level chunk as it is in the file.
type Chunk struct {
	ID         [4]byte
	Offset     int64  // offset of the chunk header
	Size       uint32 // declared data size
	DataOffset int64  // Offset + 8
	// Avail is how many data bytes the file really holds (less than Size
	// for a truncated chunk or the placeholder size).
	Avail int64
	// End is the offset just past the chunk's data and pad byte, where the
	// next chunk starts.
	End int64
}

// Layout is what Walk found.
type Layout struct {
	FormType   [4]byte
	SizeField  uint32
	FileSize   int64
	Chunks     []Chunk // at most MaxKeptChunks
	ChunkCount int     // all chunks, kept or not
	SealCount  int     // all chunks with the ID "seal", kept or not
	// SealOffsets are the offsets of the first MaxIssues seal chunks,
	// kept or not (a sealed file has one, at its end).
	SealOffsets []int64
	Issues      []Issue // at most MaxIssues
	moreIssues  int     // issues past MaxIssues
}

// Find returns the first chunk with the given ID.
func (l *Layout) Find(id [4]byte) (Chunk, bool) {
	for _, c := range l.Chunks {
		if c.ID == id {
			return c, true
		}
	}
	return Chunk{}, false
}

func (l *Layout) issue(code string, off int64, format string, args ...any) {
	if len(l.Issues) < MaxIssues {
		l.Issues = append(l.Issues, Issue{Code: code, Offset: off, Detail: fmt.Sprintf(format, args...)})
		return
	}
	l.moreIssues++
}

// ReadHeader reads and checks the 12-byte RIFF header.
func ReadHeader(r io.ReaderAt, size int64) (sizeField uint32, form [4]byte, err error) {
	var h [HeaderSize]byte
	if size < 4 {
		return 0, form, ErrShort
	}
	n, err := r.ReadAt(h[:], 0)
	if n >= 4 && string(h[:4]) == "RF64" || n >= 4 && string(h[:4]) == "BW64" {
		return 0, form, ErrRF64
	}
	if n >= 4 && string(h[:4]) != "RIFF" {
		return 0, form, ErrNotRIFF
	}
	if size < HeaderSize || n < HeaderSize {
		if err != nil && err != io.EOF {
			return 0, form, err
		}
		return 0, form, ErrShort
	}
	if size >= MaxSize {
		return 0, form, ErrTooLarge
	}
	copy(form[:], h[8:12])
	return binary.LittleEndian.Uint32(h[4:8]), form, nil
}

// Walk reads the chunk headers of r[0:size] (a RIFF file) and reports its
// layout. It reads only headers and pad bytes, never chunk data.
func Walk(r io.ReaderAt, size int64) (*Layout, error) {
	sizeField, form, err := ReadHeader(r, size)
	if err != nil {
		return nil, err
	}
	l := &Layout{FormType: form, SizeField: sizeField, FileSize: size}
	switch {
	case sizeField == PlaceholderSize:
		l.issue(CodePlaceholderSize, 4, "RIFF size field is the 0xFFFFFFFF placeholder (file length %d)", size)
	case int64(sizeField) != size-8:
		l.issue(CodeSizeMismatch, 4, "RIFF size field says %d, file length - 8 is %d", sizeField, size-8)
	}
	var hdr [8]byte
	off := int64(HeaderSize)
	for off < size {
		if size-off < 8 {
			l.issue(CodeTrailingBytes, off, "%d byte(s) after the last chunk, too few for a chunk header", size-off)
			break
		}
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			return nil, fmt.Errorf("reading chunk header at offset %d: %w", off, err)
		}
		if !validID(hdr[:4]) {
			l.issue(CodeInvalidChunkID, off, "no valid chunk ID at offset %d (%q); the rest of the file is not walked", off, hdr[:4])
			break
		}
		c := Chunk{Offset: off, Size: binary.LittleEndian.Uint32(hdr[4:8]), DataOffset: off + 8}
		copy(c.ID[:], hdr[:4])
		end := c.DataOffset + int64(c.Size)
		switch {
		case c.Size == PlaceholderSize:
			l.issue(CodePlaceholderSize, off+4, "chunk %q at offset %d has the 0xFFFFFFFF placeholder size; it is taken to run to the end of the file", c.ID[:], off)
			end = size
		case end > size:
			l.issue(CodeTruncatedChunk, off, "chunk %q at offset %d declares %d bytes, the file holds %d", c.ID[:], off, c.Size, size-c.DataOffset)
			end = size
		}
		c.Avail = end - c.DataOffset
		c.End = end
		if c.Size%2 == 1 && end < size && c.Size != PlaceholderSize {
			pad, next, err := checkPad(r, size, end)
			if err != nil {
				return nil, err
			}
			switch {
			case pad == 0:
				c.End = end + 1
			case next:
				l.issue(CodeMissingPad, end, "odd-sized chunk %q at offset %d has no pad byte", c.ID[:], off)
			default:
				l.issue(CodeNonZeroPad, end, "pad byte of chunk %q at offset %d is 0x%02x, not zero", c.ID[:], off, pad)
				c.End = end + 1
			}
		}
		l.ChunkCount++
		if c.ID == SealID {
			l.SealCount++
			if len(l.SealOffsets) < MaxIssues {
				l.SealOffsets = append(l.SealOffsets, c.Offset)
			}
		}
		if len(l.Chunks) < MaxKeptChunks {
			l.Chunks = append(l.Chunks, c)
		}
		off = c.End
	}
	if l.moreIssues > 0 {
		last := &l.Issues[len(l.Issues)-1]
		last.Detail += fmt.Sprintf(" (and %d more issues not listed)", l.moreIssues)
	}
	return l, nil
}

// checkPad reads the byte at off (where an odd chunk's pad belongs) and says
// whether a chunk header starts there instead (the writer omitted the pad).
func checkPad(r io.ReaderAt, size, off int64) (pad byte, nextChunkHere bool, err error) {
	var b [5]byte
	n, err := r.ReadAt(b[:min(int64(len(b)), size-off)], off)
	if err != nil && err != io.EOF {
		return 0, false, fmt.Errorf("reading pad byte at offset %d: %w", off, err)
	}
	if b[0] == 0 {
		return 0, false, nil
	}
	// A non-zero byte that starts a valid chunk ID, where the byte after it
	// does not, means the pad is missing rather than dirty.
	if n >= 4 && validID(b[:4]) && (n < 5 || !validID(b[1:5])) {
		return b[0], true, nil
	}
	return b[0], false, nil
}

// validID reports whether b is a plausible chunk ID: four printable ASCII
// characters (space allowed, as in "fmt ").
func validID(b []byte) bool {
	for _, c := range b[:4] {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// SealChunk is the location of the trailing seal chunk of a sealed file.
type SealChunk struct {
	Offset int64  // p: offset of the "seal" chunk header
	Size   uint32 // n: envelope length
}

// DataOffset is where the envelope starts.
func (s SealChunk) DataOffset() int64 { return s.Offset + 8 }

// LocateSeal finds the seal chunk from the end of the file, without relying
// on the original's chunks (a truncated recording may declare a data chunk
// longer than the file): it is at the offset p where the file holds "seal",
// n = le32 after it, and p + 8 + n + (n odd) is the file length. When several
// offsets qualify (the envelope itself may contain the bytes "seal"), the
// lowest wins: it encloses the others. ok is false when no seal chunk ends
// the file.
func LocateSeal(r io.ReaderAt, size int64) (sc SealChunk, ok bool, err error) {
	const window = MaxEnvelope + 9
	start := max(int64(HeaderSize), size-window)
	if start >= size {
		return sc, false, nil
	}
	tail := make([]byte, size-start)
	if _, err := r.ReadAt(tail, start); err != nil && err != io.EOF {
		return sc, false, fmt.Errorf("reading the end of the file: %w", err)
	}
	for i := 0; i+8 <= len(tail); {
		j := bytes.Index(tail[i:], SealID[:])
		if j < 0 {
			break
		}
		p := i + j
		if p+8 <= len(tail) {
			n := binary.LittleEndian.Uint32(tail[p+4 : p+8])
			if n <= MaxEnvelope && int64(p)+8+int64(n)+int64(n&1) == int64(len(tail)) {
				return SealChunk{Offset: start + int64(p), Size: n}, true, nil
			}
		}
		i = p + 1
	}
	return sc, false, nil
}

// SealedLength returns the length of a sealed file whose original is size
// bytes long and whose envelope is n bytes long.
func SealedLength(size int64, n int) int64 {
	return size + size&1 + 8 + int64(n) + int64(n&1)
}

// OriginalHeader is the first 8 bytes of the original: "RIFF" + its own size
// field, which sealing replaced.
func OriginalHeader(riffSize uint32) []byte {
	h := []byte("RIFF\x00\x00\x00\x00")
	binary.LittleEndian.PutUint32(h[4:], riffSize)
	return h
}

// SealTrailer returns what follows the original's bytes in a sealed file:
// the pad byte the original needs (when size is odd), the seal chunk header,
// the envelope and its pad byte.
func SealTrailer(size int64, envelope []byte) []byte {
	b := make([]byte, 0, 10+len(envelope))
	if size%2 == 1 {
		b = append(b, 0)
	}
	b = append(b, SealID[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(envelope)))
	b = append(b, envelope...)
	if len(envelope)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// SealedHeader is the first 8 bytes of a sealed file of the given length.
func SealedHeader(sealedLen int64) []byte {
	return OriginalHeader(uint32(sealedLen - 8))
}

// scanWindow bounds how far from the end ScanSealChunks looks: room for a
// few envelopes.
const scanWindow = 4 * (MaxEnvelope + 16)

// ScanSealChunks finds seal chunk headers near the end of a file without
// walking chunks: "seal", a length of at most MaxEnvelope that fits in the
// file, and data that starts like a JSON object. It serves to explain a
// file whose seal is not where v1 puts it (moved, duplicated, followed by
// extra bytes), even when the original's own chunks cannot be walked.
func ScanSealChunks(r io.ReaderAt, size int64) ([]SealChunk, error) {
	start := max(int64(HeaderSize), size-scanWindow)
	if start >= size {
		return nil, nil
	}
	buf := make([]byte, size-start)
	if _, err := r.ReadAt(buf, start); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading the end of the file: %w", err)
	}
	var out []SealChunk
	for i := 0; ; {
		j := bytes.Index(buf[i:], SealID[:])
		if j < 0 {
			break
		}
		p := i + j
		if p+9 <= len(buf) {
			n := binary.LittleEndian.Uint32(buf[p+4 : p+8])
			if n <= MaxEnvelope && int64(p)+8+int64(n) <= int64(len(buf)) && buf[p+8] == '{' {
				out = append(out, SealChunk{Offset: start + int64(p), Size: n})
			}
		}
		i = p + 1
	}
	return out, nil
}
