package timeline

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/tlseal/tlseal/jsonio"
	"github.com/tlseal/tlseal/riffio"
)

// Problem is a structural fact about a sealed file, with the stable code of
// the finding it becomes (docs/findings.md). Open reports problems; the
// verify package decides what they mean for the verdict.
type Problem struct {
	Code   string
	Detail string
}

// Problem codes found by Open. (riffio's issue codes are passed through.)
const (
	CodeSealMissing      = "seal.missing"
	CodeSealMalformed    = "seal.malformed"
	CodeSealMultiple     = "seal.multiple"
	CodeSealNotLast      = "seal.notLast"
	CodeSealKindMismatch = "seal.kindMismatch"
	CodeSealOffset       = "seal.offsetMismatch"
	CodeSizeMismatch     = "content.sizeMismatch"
	CodeDigestMismatch   = "content.digestMismatch"
	CodeRIFFSealedSize   = "riff.sealedSizeMismatch"
	CodeRIFFSealPad      = "riff.sealPadNonZero"
	CodeRIFFUnreadable   = "riff.unreadable"
	CodeJSONInvalid      = "json.invalid"
	CodeJSONSplice       = "json.spliceInvalid"
	CodeJSONDuplicateKey = "json.duplicateKey"
	CodeNotTimeline      = "seal.notTimeline"
)

// Opened is what Open learned about one file.
type Opened struct {
	Kind Kind  // detected from the bytes ("" when neither)
	Size int64 // the file's length

	// Envelope is set when a seal was located and parsed; EnvelopeBytes
	// whenever a seal was located.
	Envelope      *Envelope
	EnvelopeBytes []byte

	// Original is the reconstructed original's location (valid when
	// HasOriginal) and OriginalSHA256 its digest.
	HasOriginal    bool
	OriginalSize   int64
	OriginalSHA256 [32]byte

	// RIFF: the original's chunk layout and, for WAVE, its audio.
	Layout *riffio.Layout
	Wave   *riffio.WaveInfo
	// JSON: the sealed document's structure.
	Doc *jsonio.Document

	Problems []Problem

	src   io.ReaderAt
	split jsonio.Split // JSON: where the original's bytes are

	knownBytes []byte    // OpenKnown
	known      *Envelope // parsed from knownBytes
}

func (o *Opened) problem(code, format string, args ...any) {
	o.Problems = append(o.Problems, Problem{Code: code, Detail: fmt.Sprintf(format, args...)})
}

// Has reports whether a problem with the code was found.
func (o *Opened) Has(code string) bool {
	for _, p := range o.Problems {
		if p.Code == code {
			return true
		}
	}
	return false
}

// Original returns a reader of the reconstructed original bytes.
func (o *Opened) Original() (io.Reader, error) {
	if !o.HasOriginal {
		return nil, newError(ReasonNotSealed, nil, "no seal where format v1 puts it")
	}
	if o.Kind == KindRIFF {
		return io.NewSectionReader(riffio.NewOriginal(o.src, o.OriginalSize, uint32(*o.Envelope.RIFFSize)), 0, o.OriginalSize), nil
	}
	return io.MultiReader(
		io.NewSectionReader(o.src, 0, o.split.Cut),
		io.NewSectionReader(o.src, o.split.Resume, o.Size-o.split.Resume),
	), nil
}

// Open reads a sealed file: it locates the seal, parses the envelope,
// reconstructs the original and hashes it, in one pass over the content.
// Structural problems are recorded in Problems; the error is reserved for
// failures to read.
func Open(r io.ReaderAt, size int64) (*Opened, error) { return OpenKnown(r, size, nil, nil) }

// OpenKnown is Open for a file whose seal is expected to be known: the
// envelope bytes an archive's log holds for it, and the envelope already
// parsed from them (archive.Check parses every logged envelope as it reads
// the log). When the file's envelope bytes are exactly knownBytes, known is
// used instead of parsing the same bytes a second time; otherwise the
// file's own envelope is parsed, as Open does. The problems found are the
// same either way: the parse is a function of the bytes.
func OpenKnown(r io.ReaderAt, size int64, knownBytes []byte, known *Envelope) (*Opened, error) {
	o := &Opened{Size: size, src: r, knownBytes: knownBytes, known: known}
	// A small file is read whole with one read and judged from memory: for a
	// 2 KiB event the several reads and the hash snapshot of the streaming
	// pass cost more than the work itself. A short read (the file shrank)
	// takes the streaming path, which reports what it finds.
	var data []byte
	if size > 0 && size <= smallFile {
		b := make([]byte, size)
		if n, _ := r.ReadAt(b, 0); n == len(b) {
			data = b
			o.src = bytes.NewReader(b)
		}
	}
	kind, err := DetectKind(o.src)
	if err != nil {
		return nil, err
	}
	o.Kind = kind
	if kind == KindRIFF {
		err = o.openRIFF()
	} else {
		err = o.openJSON(data)
	}
	if err != nil {
		return nil, err
	}
	if o.Envelope != nil && o.Envelope.Kind != o.Kind {
		o.problem(CodeSealKindMismatch, "the envelope says kind %q, the file is %s", o.Envelope.Kind, o.Kind)
	}
	if o.HasOriginal {
		if o.OriginalSize != o.Envelope.Size {
			o.problem(CodeSizeMismatch, "the original is %d bytes, the seal says %d", o.OriginalSize, o.Envelope.Size)
		}
		var got [2 * sha256.Size]byte
		hex.Encode(got[:], o.OriginalSHA256[:])
		if string(got[:]) != o.Envelope.SHA256 {
			o.problem(CodeDigestMismatch, "the original's SHA-256 is %s, the seal says %s", got[:], o.Envelope.SHA256)
		}
	}
	return o, nil
}

func (o *Opened) parseEnvelope(b []byte) {
	o.EnvelopeBytes = b
	env, err := o.known, error(nil)
	if env == nil || !bytes.Equal(b, o.knownBytes) {
		env, err = ParseEnvelope(b)
	}
	if err != nil {
		o.problem(CodeSealMalformed, "%v", err)
		return
	}
	if why := nonCanonical(env, b); why != "" {
		o.problem(CodeSealNonCanonical, "%s", why)
	}
	o.Envelope = env
}

func (o *Opened) openRIFF() error {
	r, size := o.src, o.Size
	if _, _, err := riffio.ReadHeader(r, size); err != nil {
		if errors.Is(err, riffio.ErrRF64) || errors.Is(err, riffio.ErrTooLarge) {
			return newError(ReasonTooLarge, err, "")
		}
		if errors.Is(err, riffio.ErrShort) {
			o.problem(CodeRIFFUnreadable, "%v", err)
			o.problem(CodeSealMissing, "no seal chunk")
			return nil
		}
		return newError(ReasonIO, err, "reading the RIFF header")
	}
	sc, ok, err := riffio.LocateSeal(r, size)
	if err != nil {
		return newError(ReasonIO, err, "")
	}
	if !ok {
		// No seal chunk ends the file: was it moved, duplicated, followed
		// by extra bytes, or never there?
		l, err := riffio.Walk(r, size)
		if err != nil {
			return newError(ReasonIO, err, "")
		}
		o.Layout = l
		n, err := countSeals(r, size, l)
		if err != nil {
			return err
		}
		switch {
		case n == 0:
			o.problem(CodeSealMissing, "no seal chunk")
		case n > 1:
			o.problem(CodeSealMultiple, "%d seal chunks, none of them ending the file", n)
		default:
			o.problem(CodeSealNotLast, "a seal chunk is present but is not the last chunk of the file")
		}
		return nil
	}
	envBytes := make([]byte, sc.Size)
	if _, err := r.ReadAt(envBytes, sc.DataOffset()); err != nil {
		return newError(ReasonIO, err, "reading the seal chunk")
	}
	o.parseEnvelope(envBytes)
	// The sealed header must describe the sealed file.
	var hdr [4]byte
	if _, err := r.ReadAt(hdr[:], 4); err != nil {
		return newError(ReasonIO, err, "")
	}
	if got := int64(le32(hdr[:])); got != size-8 {
		o.problem(CodeRIFFSealedSize, "the sealed file's RIFF size field says %d, the file length - 8 is %d", got, size-8)
	}
	if sc.Size%2 == 1 {
		if b, err := byteAt(r, size-1); err != nil {
			return err
		} else if b != 0 {
			o.problem(CodeRIFFSealPad, "the pad byte after the envelope is 0x%02x", b)
		}
	}
	e := o.Envelope
	if e == nil {
		return nil
	}
	if want := e.Size + e.Size&1; sc.Offset != want || e.Size < riffio.HeaderSize {
		o.problem(CodeSealOffset, "the seal chunk is at offset %d, the original's size %d puts it at %d", sc.Offset, e.Size, want)
		// Another seal chunk before the last one explains it (a duplicated
		// seal); the whole file's chunks tell.
		l, err := riffio.Walk(r, size)
		if err != nil {
			return newError(ReasonIO, err, "")
		}
		if n, err := countSeals(r, size, l); err != nil {
			return err
		} else if n > 1 {
			o.problem(CodeSealMultiple, "%d seal chunks", n)
		}
		return nil
	}
	if e.Size%2 == 1 {
		if b, err := byteAt(r, e.Size); err != nil {
			return err
		} else if b != 0 {
			o.problem(CodeRIFFSealPad, "the pad byte after the original (offset %d) is 0x%02x", e.Size, b)
		}
	}
	orig := riffio.NewOriginal(r, e.Size, uint32(*e.RIFFSize))
	l, err := riffio.Walk(orig, e.Size)
	if err != nil {
		return newError(ReasonIO, err, "walking the original's chunks")
	}
	o.Layout = l
	for _, is := range l.Issues {
		o.problem(is.Code, "original: %s", is.Detail)
	}
	if n := countWalkedSeals(l); n > 0 {
		o.problem(CodeSealMultiple, "the original part holds %d more seal chunk(s)", n)
	}
	if string(l.FormType[:]) == "WAVE" {
		if w, err := riffio.DescribeWave(orig, l); err == nil {
			o.Wave = w
		}
	}
	h := sha256.New()
	if fd, fileSize, ok := mappedFile(r, e.Size); ok {
		// The original's header (its own size in [4,8)), then the rest
		// straight from the file's page cache.
		var hdr [8]byte
		if _, err := orig.ReadAt(hdr[:], 0); err != nil {
			return newError(ReasonIO, err, "reading")
		}
		h.Write(hdr[:])
		if _, err := hashMapped(h, fd, fileSize, 8, e.Size-8); err != nil {
			return newError(ReasonIO, err, "reading")
		}
	} else {
		buf, release := getBuf(e.Size)
		defer release()
		if _, err := io.CopyBuffer(h, io.NewSectionReader(orig, 0, e.Size), buf); err != nil {
			return newError(ReasonIO, err, "reading")
		}
	}
	o.HasOriginal, o.OriginalSize = true, e.Size
	h.Sum(o.OriginalSHA256[:0])
	return nil
}

// countSeals counts the distinct seal chunks of a file: those the chunk
// walk reaches and those found near the end by their signature (the walk
// stops at the first damaged chunk of an original). Past the walk's first
// riffio.MaxIssues seal chunks (a hostile file), the rest count as
// distinct.
func countSeals(r io.ReaderAt, size int64, l *riffio.Layout) (int, error) {
	offsets := map[int64]bool{}
	for _, off := range l.SealOffsets {
		offsets[off] = true
	}
	found, err := riffio.ScanSealChunks(r, size)
	if err != nil {
		return 0, newError(ReasonIO, err, "")
	}
	for _, c := range found {
		offsets[c.Offset] = true
	}
	return len(offsets) + l.SealCount - len(l.SealOffsets), nil
}

func countWalkedSeals(l *riffio.Layout) int {
	return l.SealCount
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func byteAt(r io.ReaderAt, off int64) (byte, error) {
	var b [1]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return 0, newError(ReasonIO, err, "reading offset %d", off)
	}
	return b[0], nil
}

// smallFile is the largest file Open reads whole.
const smallFile = 64 << 10

// openJSON tokenizes the sealed document once while hashing it. The hash
// state is saved where each top-level member begins, so that when the last
// member turns out to be the seal, the original's digest is that saved state
// plus the few bytes after the envelope: no second pass. data, when not nil,
// is the whole file: it is scanned and hashed in place instead.
func (o *Opened) openJSON(data []byte) error {
	var (
		doc     *jsonio.Document
		scanErr error
		h       hash.Hash
		saved   []byte // hash state at savedAt
		savedAt = int64(-1)
		buf     []byte
	)
	if data != nil {
		doc, scanErr = jsonio.Scan(data)
	} else {
		var release func()
		buf, release = getBuf(o.Size)
		defer release()
		h = sha256.New()
		sc := jsonio.NewScanner()
		r := io.NewSectionReader(o.src, 0, o.Size)
		for scanErr == nil {
			n, rerr := r.Read(buf)
			if n > 0 {
				p := buf[:n]
				base := sc.Offset()
				if _, err := sc.Write(p); err != nil {
					scanErr = err
					break
				}
				if at := sc.LatestSpliceStart(); at >= base && at != savedAt {
					cut := at - base
					h.Write(p[:cut])
					saved = snapshot(h)
					savedAt = at
					h.Write(p[cut:])
				} else {
					h.Write(p)
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return newError(ReasonIO, rerr, "reading")
			}
		}
		if scanErr == nil {
			doc, scanErr = sc.Finish()
		}
	}
	if scanErr != nil {
		if o.Size == 0 || errors.Is(scanErr, jsonio.ErrNotObject) || isNotJSONAtStart(scanErr) {
			o.Kind = ""
			o.problem(CodeNotTimeline, "neither RIFF nor a JSON object")
			o.problem(CodeSealMissing, "no seal")
			return nil
		}
		o.problem(CodeJSONInvalid, "%v", scanErr)
		return nil
	}
	o.Doc = doc
	switch {
	case doc.SealKeys == 0:
		o.problem(CodeSealMissing, "no top-level \"seal\" member")
		return nil
	case doc.SealKeys > 1:
		o.problem(CodeSealMultiple, "%d top-level \"seal\" members", doc.SealKeys)
	}
	for _, k := range doc.Duplicates {
		if k != jsonio.SealKey {
			o.problem(CodeJSONDuplicateKey, "top-level key %q occurs more than once", k)
		}
	}
	if doc.Last.Key != jsonio.SealKey {
		o.problem(CodeSealNotLast, "the \"seal\" member is not the last top-level member")
		return nil
	}
	keyBytes, err := o.bytesAt(data, doc.Last.KeyStart, doc.Last.ValueStart)
	if err != nil {
		return err
	}
	split, err := jsonio.LocateSeal(doc, keyBytes)
	if err != nil {
		o.problem(CodeJSONSplice, "%v", err)
		return nil
	}
	o.split = split
	envLen := split.EnvEnd - split.EnvStart
	if envLen > riffio.MaxEnvelope {
		o.problem(CodeSealMalformed, "the envelope is %d bytes, more than the %d allowed", envLen, riffio.MaxEnvelope)
		return nil
	}
	envBytes, err := o.bytesAt(data, split.EnvStart, split.EnvEnd)
	if err != nil {
		return err
	}
	o.parseEnvelope(envBytes)
	if o.Envelope == nil {
		return nil
	}
	if data != nil {
		h = sha256.New()
		h.Write(data[:split.Cut])
		h.Write(data[split.Resume:])
	} else {
		if savedAt != split.Cut {
			return fmt.Errorf("internal error: hash saved at %d, splice at %d", savedAt, split.Cut)
		}
		restore(h, saved)
		if _, err := io.CopyBuffer(h, io.NewSectionReader(o.src, split.Resume, o.Size-split.Resume), buf); err != nil {
			return newError(ReasonIO, err, "reading")
		}
	}
	o.HasOriginal, o.OriginalSize = true, split.OriginalSize(o.Size)
	h.Sum(o.OriginalSHA256[:0])
	return nil
}

// bytesAt returns the file's bytes [start, end): a slice of data when the
// whole file is in memory (capacity capped, so appends cannot reach the
// bytes after), else a fresh read.
func (o *Opened) bytesAt(data []byte, start, end int64) ([]byte, error) {
	if data != nil {
		return data[start:end:end], nil
	}
	b := make([]byte, end-start)
	if _, err := o.src.ReadAt(b, start); err != nil {
		return nil, newError(ReasonIO, err, "")
	}
	return b, nil
}

func isNotJSONAtStart(err error) bool {
	var se *jsonio.SyntaxError
	return errors.As(err, &se) && bytes.HasPrefix([]byte(se.Msg), []byte("not JSON"))
}

// snapshot and restore save and reload a SHA-256 state (the standard
// library's hashes implement encoding.BinaryMarshaler for this).
func snapshot(h hash.Hash) []byte {
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(err) // cannot happen for crypto/sha256
	}
	return b
}

func restore(h hash.Hash, state []byte) {
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		panic(err) // state came from snapshot of the same hash
	}
}
