package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Note is an observation the sealer recorded with an entry (the watcher's
// watch.incomplete: a file sealed as it was after the maximum wait). Notes
// are committed with the entry's log record, atomically, but they are not
// part of the Merkle leaf: a checkpoint does not cover them (docs/archive.md,
// "Log format").
type Note struct {
	// Code is a finding code: ASCII lowercase letters, '.', ASCII letters
	// ("watch.incomplete"), as docs/findings.md and the report schema
	// have them.
	Code string `json:"code"`
	// Severity is NoteError, NoteWarning or NoteInfo.
	Severity string `json:"severity"`
	// Message is for people: any valid UTF-8.
	Message string `json:"message"`
}

// Severities of a Note.
const (
	NoteError   = "error"
	NoteWarning = "warning"
	NoteInfo    = "info"
)

const (
	// maxNotesLen bounds the encoded notes of one record (bytes).
	maxNotesLen = 64 << 10
	// maxNoteCodeLen bounds a note's code (bytes).
	maxNoteCodeLen = 128
)

// CheckNotes reports whether notes can be recorded with an entry: at least
// one, each valid, at most 64 KiB encoded.
func CheckNotes(notes []Note) error {
	if len(notes) == 0 {
		return fmt.Errorf("no notes")
	}
	for i, n := range notes {
		if err := checkNoteCode(n.Code); err != nil {
			return fmt.Errorf("note %d: %w", i+1, err)
		}
		switch n.Severity {
		case NoteError, NoteWarning, NoteInfo:
		default:
			return fmt.Errorf("note %d: severity %q is not error, warning or info", i+1, n.Severity)
		}
		if !utf8.ValidString(n.Message) {
			return fmt.Errorf("note %d: the message is not valid UTF-8", i+1)
		}
	}
	if n := len(marshalNotes(notes)); n > maxNotesLen {
		return fmt.Errorf("the notes take %d bytes encoded, more than %d", n, maxNotesLen)
	}
	return nil
}

// checkNoteCode accepts the grammar of every finding code, the one the
// report schema (docs/report.schema.json) requires: ^[a-z]+\.[a-zA-Z]+$.
func checkNoteCode(code string) error {
	family, name, ok := strings.Cut(code, ".")
	valid := ok && len(code) <= maxNoteCodeLen && family != "" && name != ""
	for i := 0; valid && i < len(family); i++ {
		valid = 'a' <= family[i] && family[i] <= 'z'
	}
	for i := 0; valid && i < len(name); i++ {
		c := name[i]
		valid = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	if !valid {
		return fmt.Errorf("code %q is not a finding code: lowercase letters, '.', letters (at most %d bytes)", code, maxNoteCodeLen)
	}
	return nil
}

// marshalNotes encodes notes in their one valid form: the RFC 8785 (JSON
// Canonicalization Scheme) serialization of an array of objects with
// exactly the members code, message, severity. One form only, so that the
// bytes a record holds are a function of the notes.
func marshalNotes(notes []Note) []byte {
	b := make([]byte, 0, 64*len(notes))
	b = append(b, '[')
	for i, n := range notes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"code":`...)
		b = appendCanonicalString(b, n.Code)
		b = append(b, `,"message":`...)
		b = appendCanonicalString(b, n.Message)
		b = append(b, `,"severity":`...)
		b = appendCanonicalString(b, n.Severity)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendCanonicalString appends s (valid UTF-8) as an RFC 8785 JSON string:
// '"' and '\' escaped, the five short escapes, other control characters as
// \u00xx (lowercase hex), everything else as it is.
func appendCanonicalString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// parseNotes decodes the notes of a record, accepting only valid notes in
// their canonical form (marshalNotes): anything else was not written by
// tlseal.
func parseNotes(b []byte) ([]Note, error) {
	if len(b) == 0 || len(b) > maxNotesLen {
		return nil, fmt.Errorf("notes length %d is not 1 to %d", len(b), maxNotesLen)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("the notes are not valid UTF-8")
	}
	var notes []Note
	if err := json.Unmarshal(b, &notes); err != nil {
		return nil, fmt.Errorf("the notes are not a JSON array of notes: %w", err)
	}
	if err := CheckNotes(notes); err != nil {
		return nil, err
	}
	// Unknown or duplicate members, other spellings of a member name,
	// missing members, whitespace and other escapes all encode back
	// differently.
	if !bytes.Equal(marshalNotes(notes), b) {
		return nil, fmt.Errorf("the notes are not in their canonical form")
	}
	return notes, nil
}
