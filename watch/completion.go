package watch

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/tlseal/tlseal/jsonio"
	"github.com/tlseal/tlseal/riffio"
	"github.com/tlseal/tlseal/timeline"
)

// Status is what the structural completeness check found.
type Status int

const (
	// Incomplete: a writer is presumably still at work (the JSON object is
	// not closed, the RIFF size fields are not final, the file is empty).
	Incomplete Status = iota
	// Complete: ready to be sealed.
	Complete
	// Sealed: the file already carries a seal.
	Sealed
	// NotTimeline: neither a JSON object nor a RIFF file (or broken so
	// that no further writing can make it one).
	NotTimeline
	// TooLarge: RF64/BW64 or 4 GiB and more, outside seal format v1.
	TooLarge
)

func (s Status) String() string {
	switch s {
	case Incomplete:
		return "incomplete"
	case Complete:
		return "complete"
	case Sealed:
		return "sealed"
	case NotTimeline:
		return "not a timeline file"
	case TooLarge:
		return "too large"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Completeness is the outcome of CheckComplete.
type Completeness struct {
	Status Status
	Kind   timeline.Kind // "" when NotTimeline
	Detail string        // why it is not Complete
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// CheckComplete looks at the size bytes of r and says whether they are a
// complete timeline file. JSON: the object parses to its closing brace and
// only whitespace follows. RIFF: the header's size field equals size − 8
// and is not the 0xFFFFFFFF placeholder, and no chunk declares the
// placeholder or runs past the end of the file. JSON files are read
// entirely; RIFF files only where their chunk headers are. The error is for
// failures to read.
func CheckComplete(r io.ReaderAt, size int64) (Completeness, error) {
	head := make([]byte, min(size, 64))
	if n, err := r.ReadAt(head, 0); n < len(head) {
		if err == nil || err == io.EOF {
			return Completeness{Status: Incomplete, Detail: "the file is shorter than its size"}, nil
		}
		return Completeness{}, err
	}
	lead := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	switch {
	case len(lead) == 0 && len(head) == int(size):
		return Completeness{Status: Incomplete, Detail: "the file is empty"}, nil
	case hasPrefixOrIsPrefix(head, "RIFF"), hasPrefixOrIsPrefix(head, "RF64"), hasPrefixOrIsPrefix(head, "BW64"):
		return checkRIFF(r, size)
	case len(lead) > 0 && lead[0] == '{', len(lead) == 0:
		return checkJSON(r, size)
	case bytes.HasPrefix(utf8BOM, head):
		return Completeness{Status: Incomplete, Detail: "only a byte order mark so far"}, nil
	}
	return Completeness{Status: NotTimeline, Detail: "neither a JSON object nor a RIFF file"}, nil
}

// hasPrefixOrIsPrefix: b starts with s, or b is shorter and a prefix of s.
func hasPrefixOrIsPrefix(b []byte, s string) bool {
	if len(b) >= len(s) {
		return string(b[:len(s)]) == s
	}
	return len(b) > 0 && s[:len(b)] == string(b)
}

func checkRIFF(r io.ReaderAt, size int64) (Completeness, error) {
	c := Completeness{Kind: timeline.KindRIFF}
	sizeField, _, err := riffio.ReadHeader(r, size)
	switch {
	case errors.Is(err, riffio.ErrRF64), errors.Is(err, riffio.ErrTooLarge):
		c.Status, c.Detail = TooLarge, err.Error()
		return c, nil
	case errors.Is(err, riffio.ErrShort):
		c.Status, c.Detail = Incomplete, "shorter than a RIFF header"
		return c, nil
	case errors.Is(err, riffio.ErrNotRIFF):
		c.Status, c.Detail, c.Kind = NotTimeline, "not a RIFF header", ""
		return c, nil
	case err != nil:
		return c, err
	}
	switch {
	case sizeField == riffio.PlaceholderSize:
		c.Status, c.Detail = Incomplete, "the RIFF size field is the 0xFFFFFFFF placeholder"
		return c, nil
	case int64(sizeField) != size-8:
		c.Status, c.Detail = Incomplete, fmt.Sprintf("the RIFF size field says %d bytes, the file has %d after the header", sizeField, size-8)
		return c, nil
	}
	if _, ok, err := riffio.LocateSeal(r, size); err != nil {
		return c, err
	} else if ok {
		c.Status, c.Detail = Sealed, "a seal chunk ends the file"
		return c, nil
	}
	l, err := riffio.Walk(r, size)
	if err != nil {
		return c, err
	}
	for _, is := range l.Issues {
		if is.Code == riffio.CodePlaceholderSize || is.Code == riffio.CodeTruncatedChunk {
			c.Status, c.Detail = Incomplete, is.Detail
			return c, nil
		}
	}
	c.Status = Complete
	return c, nil
}

// jsonBuf is the read size of the JSON completeness scan.
const jsonBuf = 256 << 10

func checkJSON(r io.ReaderAt, size int64) (Completeness, error) {
	c := Completeness{Kind: timeline.KindJSON}
	sc := jsonio.NewScanner()
	buf := make([]byte, min(size, jsonBuf))
	sr := io.NewSectionReader(r, 0, size)
	for {
		n, err := sr.Read(buf)
		if n > 0 {
			if _, werr := sc.Write(buf[:n]); werr != nil {
				c.Status, c.Kind, c.Detail = NotTimeline, "", werr.Error()
				if errors.Is(werr, jsonio.ErrNotObject) {
					c.Detail = "the JSON value is not an object"
				}
				return c, nil
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return c, err
		}
	}
	if sc.Offset() != size {
		c.Status, c.Detail = Incomplete, "the file is shorter than its size"
		return c, nil
	}
	doc, err := sc.Finish()
	if err != nil {
		c.Status, c.Detail = Incomplete, "the JSON object is not closed"
		return c, nil
	}
	if doc.SealKeys > 0 {
		c.Status, c.Detail = Sealed, "the object has a top-level \"seal\" member"
		return c, nil
	}
	c.Status = Complete
	return c, nil
}
