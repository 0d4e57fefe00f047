package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// Version is the seal format version this package writes and reads.
const Version = 1

// TimeLayout is the format of signedAt: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// maxSafeInt is 2^53: integers in an envelope stay below it so that every
// JSON implementation (jq included) reads them exactly.
const maxSafeInt = 1 << 53

// Kind is the kind of timeline file.
type Kind string

const (
	KindJSON Kind = "json"
	KindRIFF Kind = "riff"
)

// Chain links a seal to the previous one in an archive's chain of evidence.
type Chain struct {
	ID   string `json:"id"`
	Seq  int64  `json:"seq"`
	Prev string `json:"prev"` // hex SHA-256 of the previous envelope's bytes, "" for seq 1
}

// Envelope is the seal of one file (seal format v1).
type Envelope struct {
	V        int
	Alg      Alg
	Kind     Kind
	Name     string
	Size     int64
	SHA256   string
	RIFFSize *int64 // riff only: the original header's size field
	SignedAt time.Time
	Chain    *Chain
	CertPEM  string
	ChainPEM string
	Sig      string
}

// Marshal returns the envelope's bytes as embedded in a sealed file: the
// canonical (RFC 8785) serialization, sig included.
func (e *Envelope) Marshal() []byte { return e.canonical(true) }

// SigningInput returns the bytes that are signed: the canonical
// serialization of the envelope without sig. It equals
// `jq -jcS 'del(.sig)'` applied to the envelope.
func (e *Envelope) SigningInput() []byte { return e.canonical(false) }

// canonical writes the members in RFC 8785 order (sorted by key; all keys
// are ASCII, so byte order is UTF-16 order), without whitespace.
func (e *Envelope) canonical(withSig bool) []byte {
	var b bytes.Buffer
	b.Grow(1024 + len(e.CertPEM) + len(e.ChainPEM))
	b.WriteByte('{')
	member := func(key string) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		writeString(&b, key)
		b.WriteByte(':')
	}
	member("alg")
	writeString(&b, string(e.Alg))
	member("certPem")
	writeString(&b, e.CertPEM)
	if e.Chain != nil {
		member("chain")
		b.WriteString(`{"id":`)
		writeString(&b, e.Chain.ID)
		b.WriteString(`,"prev":`)
		writeString(&b, e.Chain.Prev)
		b.WriteString(`,"seq":`)
		b.WriteString(strconv.FormatInt(e.Chain.Seq, 10))
		b.WriteByte('}')
	}
	if e.ChainPEM != "" {
		member("chainPem")
		writeString(&b, e.ChainPEM)
	}
	member("kind")
	writeString(&b, string(e.Kind))
	member("name")
	writeString(&b, e.Name)
	if e.RIFFSize != nil {
		member("riffSize")
		b.WriteString(strconv.FormatInt(*e.RIFFSize, 10))
	}
	member("sha256")
	writeString(&b, e.SHA256)
	if withSig {
		member("sig")
		writeString(&b, e.Sig)
	}
	member("signedAt")
	writeString(&b, e.SignedAt.UTC().Format(TimeLayout))
	member("size")
	b.WriteString(strconv.FormatInt(e.Size, 10))
	member("v")
	b.WriteString(strconv.Itoa(e.V))
	b.WriteByte('}')
	return b.Bytes()
}

// writeString writes s as a JSON string with RFC 8785 escaping: '"', '\\'
// and control characters only (\b \t \n \f \r short, others \u00xx);
// everything else, non-ASCII included, as is. Invalid UTF-8 has been
// replaced before it gets here (see cleanString).
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// cleanString makes s valid UTF-8 (file names on disk need not be), the
// way every JSON reader would read it.
func cleanString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD")))
}

// EnvelopeError says why envelope bytes are not a valid v1 envelope.
type EnvelopeError struct{ Msg string }

func (e *EnvelopeError) Error() string { return "malformed seal envelope: " + e.Msg }

func envErr(format string, args ...any) error {
	return &EnvelopeError{fmt.Sprintf(format, args...)}
}

// ParseEnvelope parses envelope bytes strictly: one JSON object, every
// member known, of the right type and present where required, no duplicate
// members, integers below 2^53, signedAt in the exact v1 time format.
func ParseEnvelope(data []byte) (*Envelope, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, envErr("%v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, envErr("not a JSON object")
	}
	e := &Envelope{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, envErr("%v", err)
		}
		key := tok.(string) // the decoder only yields string keys in objects
		if seen[key] {
			return nil, envErr("duplicate member %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, envErr("member %q: %v", key, err)
		}
		if err := e.setMember(key, raw); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, envErr("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, envErr("data after the envelope object")
	}
	for _, k := range []string{"v", "alg", "kind", "name", "size", "sha256", "signedAt", "certPem", "sig"} {
		if !seen[k] {
			return nil, envErr("member %q is missing", k)
		}
	}
	if e.V != Version {
		return nil, envErr("version %d is not supported (this tool reads version %d)", e.V, Version)
	}
	switch e.Kind {
	case KindRIFF:
		if e.RIFFSize == nil {
			return nil, envErr("riffSize is required for kind riff")
		}
		if *e.RIFFSize > 0xFFFFFFFF {
			return nil, envErr("riffSize %d does not fit 32 bits", *e.RIFFSize)
		}
	case KindJSON:
		if e.RIFFSize != nil {
			return nil, envErr("riffSize is only for kind riff")
		}
	default:
		return nil, envErr("unknown kind %q", e.Kind)
	}
	if _, err := e.Alg.Hash(); err != nil {
		return nil, envErr("%v", err)
	}
	if !isLowerHex(e.SHA256, 64) {
		return nil, envErr("sha256 is not 64 lowercase hex digits")
	}
	if c := e.Chain; c != nil {
		if c.Seq < 1 {
			return nil, envErr("chain.seq must be at least 1")
		}
		if c.Seq == 1 && c.Prev != "" || c.Seq > 1 && !isLowerHex(c.Prev, 64) {
			return nil, envErr("chain.prev must be \"\" for seq 1, else 64 lowercase hex digits")
		}
	}
	return e, nil
}

func (e *Envelope) setMember(key string, raw json.RawMessage) error {
	var err error
	switch key {
	case "v":
		var n int64
		n, err = parseInt(raw)
		e.V = int(n)
	case "alg":
		var s string
		s, err = parseString(raw)
		e.Alg = Alg(s)
	case "kind":
		var s string
		s, err = parseString(raw)
		e.Kind = Kind(s)
	case "name":
		e.Name, err = parseString(raw)
	case "size":
		e.Size, err = parseInt(raw)
	case "sha256":
		e.SHA256, err = parseString(raw)
	case "riffSize":
		var n int64
		n, err = parseInt(raw)
		e.RIFFSize = &n
	case "signedAt":
		var s string
		if s, err = parseString(raw); err == nil {
			e.SignedAt, err = time.Parse(TimeLayout, s)
			if err == nil && e.SignedAt.Format(TimeLayout) != s {
				err = fmt.Errorf("not in the form %s", TimeLayout)
			}
		}
	case "chain":
		e.Chain, err = parseChain(raw)
	case "certPem":
		e.CertPEM, err = parseString(raw)
	case "chainPem":
		e.ChainPEM, err = parseString(raw)
	case "sig":
		e.Sig, err = parseString(raw)
	default:
		return envErr("unknown member %q", key)
	}
	if err != nil {
		return envErr("member %q: %v", key, err)
	}
	return nil
}

func parseString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("not a string")
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

func parseInt(raw json.RawMessage) (int64, error) {
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a non-negative integer")
		}
	}
	if len(raw) == 0 || len(raw) > 1 && raw[0] == '0' {
		return 0, fmt.Errorf("not a non-negative integer")
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n >= maxSafeInt {
		return 0, fmt.Errorf("integer out of range (must be below 2^53)")
	}
	return n, nil
}

func parseChain(raw json.RawMessage) (*Chain, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object")
	}
	c := &Chain{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string)
		if seen[key] {
			return nil, fmt.Errorf("duplicate member %q", key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		switch key {
		case "id":
			c.ID, err = parseString(v)
		case "seq":
			c.Seq, err = parseInt(v)
		case "prev":
			c.Prev, err = parseString(v)
		default:
			return nil, fmt.Errorf("unknown member %q", key)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	if !seen["id"] || !seen["seq"] || !seen["prev"] {
		return nil, fmt.Errorf("id, seq and prev are required")
	}
	return c, nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
