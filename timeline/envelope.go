package timeline

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tlseal/tlseal/jsonio"
)

// Version is the seal format version of a seal without a timestamp;
// VersionTimestamped is that of a seal with one (tst). This package reads
// both; a sealer writes version 2 exactly when tst is present.
const (
	Version            = 1
	VersionTimestamped = 2
)

// MaxTokenSize bounds tst's decoded length (RFC 3161 tokens with their
// TSA's certificate chain are a few KiB).
const MaxTokenSize = 64 << 10

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

// Envelope is the seal of one file (seal format v1, or v2 with tst).
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
	TST      string // version 2: standard base64 of a DER RFC 3161 TimeStampToken over sig's DER bytes

	// token is TST decoded by ParseEnvelope, valid while TST is still
	// tokenOf: an audit asks for it more than once per seal.
	token   []byte
	tokenOf string
}

// Marshal returns the envelope's bytes as embedded in a sealed file: the
// canonical (RFC 8785) serialization, sig included.
func (e *Envelope) Marshal() []byte { return e.canonical(true) }

// SigningInput returns the bytes that are signed: the canonical
// serialization of the envelope without sig and tst. It equals
// `jq -jcS 'del(.sig,.tst)'` applied to the envelope.
func (e *Envelope) SigningInput() []byte { return e.canonical(false) }

// canonical writes the members in RFC 8785 order (sorted by key; all keys
// are ASCII, so byte order is UTF-16 order), without whitespace.
func (e *Envelope) canonical(withSig bool) []byte {
	return e.appendCanonical(make([]byte, 0, 512+len(e.CertPEM)+len(e.ChainPEM)+len(e.Name)+len(e.TST)), withSig)
}

// SignatureDER returns the decoded sig (strict standard base64), the
// bytes a version-2 token stamps.
func (e *Envelope) SignatureDER() ([]byte, error) { return strictBase64.DecodeString(e.Sig) }

// Token returns the decoded tst (nil when there is none). ParseEnvelope
// has checked that it is canonical standard base64.
func (e *Envelope) Token() []byte {
	if e.TST == "" {
		return nil
	}
	if e.token != nil && e.tokenOf == e.TST {
		return e.token
	}
	b, err := strictBase64.DecodeString(e.TST)
	if err != nil {
		return nil
	}
	return b
}

func (e *Envelope) appendCanonical(b []byte, withSig bool) []byte {
	b = append(b, `{"alg":`...)
	b = appendString(b, string(e.Alg))
	b = append(b, `,"certPem":`...)
	b = appendString(b, e.CertPEM)
	if e.Chain != nil {
		b = append(b, `,"chain":{"id":`...)
		b = appendString(b, e.Chain.ID)
		b = append(b, `,"prev":`...)
		b = appendString(b, e.Chain.Prev)
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, e.Chain.Seq, 10)
		b = append(b, '}')
	}
	if e.ChainPEM != "" {
		b = append(b, `,"chainPem":`...)
		b = appendString(b, e.ChainPEM)
	}
	b = append(b, `,"kind":`...)
	b = appendString(b, string(e.Kind))
	b = append(b, `,"name":`...)
	b = appendString(b, e.Name)
	if e.RIFFSize != nil {
		b = append(b, `,"riffSize":`...)
		b = strconv.AppendInt(b, *e.RIFFSize, 10)
	}
	b = append(b, `,"sha256":`...)
	b = appendString(b, e.SHA256)
	if withSig {
		b = append(b, `,"sig":`...)
		b = appendString(b, e.Sig)
	}
	b = append(b, `,"signedAt":"`...)
	b = e.SignedAt.UTC().AppendFormat(b, TimeLayout)
	b = append(b, `","size":`...)
	b = strconv.AppendInt(b, e.Size, 10)
	if withSig && e.TST != "" {
		b = append(b, `,"tst":`...)
		b = appendString(b, e.TST)
	}
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, int64(e.V), 10)
	return append(b, '}')
}

// appendString appends s as a JSON string with RFC 8785 escaping: '"',
// '\\' and control characters only (\b \t \n \f \r short, others
// \u00xx); everything else, non-ASCII included, as is. Invalid UTF-8 has
// been replaced before it gets here (see cleanString).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		// Runs that need no escape are copied at once.
		j := i
		for j < len(s) && s[j] >= 0x20 && s[j] != '"' && s[j] != '\\' {
			j++
		}
		b = append(b, s[i:j]...)
		if j == len(s) {
			break
		}
		switch c := s[j]; c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\t':
			b = append(b, `\t`...)
		case '\n':
			b = append(b, `\n`...)
		case '\f':
			b = append(b, `\f`...)
		case '\r':
			b = append(b, `\r`...)
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i = j + 1
	}
	return append(b, '"')
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

// envelopeMembers are the members of an envelope, the required ones first
// in the order their absence is reported.
var envelopeMembers = [...]string{"v", "alg", "kind", "name", "size", "sha256", "signedAt", "certPem", "sig", "riffSize", "chain", "chainPem", "tst"}

const requiredMembers = 9

// ParseEnvelope parses envelope bytes strictly: one JSON object, every
// member known, of the right type and present where required, no duplicate
// members, integers below 2^53, signedAt in the exact v1 time format, tst
// present exactly in version 2 and canonical base64 there.
func ParseEnvelope(data []byte) (*Envelope, error) {
	e := &Envelope{}
	var seen uint16 // bit i: envelopeMembers[i] was seen
	var memberErr error
	err := scanObject(data, func(key string, raw []byte) {
		if memberErr != nil {
			return
		}
		i := slices.Index(envelopeMembers[:], key)
		if i < 0 {
			memberErr = envErr("unknown member %q", key)
			return
		}
		if seen&(1<<i) != 0 {
			memberErr = envErr("duplicate member %q", key)
			return
		}
		seen |= 1 << i
		memberErr = e.setMember(key, raw)
	})
	if err != nil {
		return nil, envErr("%v", err)
	}
	if memberErr != nil {
		return nil, memberErr
	}
	for i, k := range envelopeMembers[:requiredMembers] {
		if seen&(1<<i) == 0 {
			return nil, envErr("member %q is missing", k)
		}
	}
	switch {
	case e.V != Version && e.V != VersionTimestamped:
		return nil, envErr("version %d is not supported (this tool reads versions %d and %d)", e.V, Version, VersionTimestamped)
	case e.V == Version && e.TST != "":
		return nil, envErr("tst is a version-2 member: a version-1 seal cannot carry it")
	case e.V == VersionTimestamped && e.TST == "":
		return nil, envErr("version 2 without tst: a sealer writes version 2 only with a timestamp")
	}
	if e.TST != "" {
		tok, err := strictBase64.DecodeString(e.TST)
		switch {
		case err != nil:
			return nil, envErr("tst is not standard base64: %v", err)
		case strictBase64.EncodedLen(len(tok)) != len(e.TST):
			return nil, envErr("tst is not canonical base64 (line breaks or other bytes the decoder skips)")
		case len(tok) > MaxTokenSize:
			return nil, envErr("tst is %d bytes (at most %d)", len(tok), MaxTokenSize)
		}
		e.token, e.tokenOf = tok, e.TST
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

func (e *Envelope) setMember(key string, raw []byte) error {
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
			var buf [len(TimeLayout)]byte
			if err == nil && string(e.SignedAt.AppendFormat(buf[:0], TimeLayout)) != s {
				err = fmt.Errorf("not in the form %s", TimeLayout)
			}
		}
	case "chain":
		e.Chain, err = parseChain(raw)
	case "certPem":
		e.CertPEM, err = parsePEMString(raw)
	case "chainPem":
		e.ChainPEM, err = parsePEMString(raw)
	case "sig":
		e.Sig, err = parseString(raw)
	case "tst":
		e.TST, err = parseString(raw)
		if err == nil && e.TST == "" {
			err = fmt.Errorf("empty")
		}
	default:
		return envErr("unknown member %q", key)
	}
	if err != nil {
		return envErr("member %q: %v", key, err)
	}
	return nil
}

// scanObject calls member for each member of the JSON object in data,
// with the decoded key and the value's raw bytes. It fails on anything but
// one well-formed JSON object (whitespace around it allowed, no BOM).
func scanObject(data []byte, member func(key string, raw []byte)) error {
	if bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) {
		return fmt.Errorf("byte order mark before the object")
	}
	return jsonio.ScanMembers(data, func(m jsonio.Member) {
		if m.KeyTooLong {
			member(string(data[m.KeyStart:m.KeyEnd]), data[m.ValueStart:m.ValueEnd])
			return
		}
		member(m.Key, data[m.ValueStart:m.ValueEnd])
	})
}

func parseString(raw []byte) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("not a string")
	}
	return jsonio.Unquote(raw)
}

// pemStrings remembers certPem and chainPem values by their JSON bytes:
// every seal of a recorder carries the same ones, and a verifier would
// otherwise decode the same kilobyte of escapes once per seal (an audit
// twice: from the log and from the file). A memo of parseString, a
// function of the bytes (errors are not kept); bounded: values of up to
// maxPEMStringLen bytes (a chain of a few certificates; a hostile
// envelope's megabyte is decoded, not kept), and past maxPEMStrings
// values it is cleared and starts again.
var pemStrings struct {
	sync.Mutex
	m map[string]string
}

const maxPEMStrings, maxPEMStringLen = 64, 16 << 10

func parsePEMString(raw []byte) (string, error) {
	if len(raw) > maxPEMStringLen {
		return parseString(raw)
	}
	pemStrings.Lock()
	s, ok := pemStrings.m[string(raw)]
	pemStrings.Unlock()
	if ok {
		return s, nil
	}
	s, err := parseString(raw)
	if err != nil {
		return "", err
	}
	pemStrings.Lock()
	if pemStrings.m == nil || len(pemStrings.m) >= maxPEMStrings {
		pemStrings.m = map[string]string{}
	}
	pemStrings.m[string(raw)] = s
	pemStrings.Unlock()
	return s, nil
}

func parseInt(raw []byte) (int64, error) {
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

func parseChain(raw []byte) (*Chain, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("not an object")
	}
	c := &Chain{}
	const idBit, seqBit, prevBit = 1, 2, 4
	var seen int // which of id, seq and prev were seen (no map per seal)
	var err error
	scanErr := scanObject(raw, func(key string, v []byte) {
		if err != nil {
			return
		}
		var bit int
		switch key {
		case "id":
			bit = idBit
		case "seq":
			bit = seqBit
		case "prev":
			bit = prevBit
		default:
			err = fmt.Errorf("unknown member %q", key)
			return
		}
		if seen&bit != 0 {
			err = fmt.Errorf("duplicate member %q", key)
			return
		}
		seen |= bit
		switch bit {
		case idBit:
			c.ID, err = parseString(v)
		case seqBit:
			c.Seq, err = parseInt(v)
		case prevBit:
			c.Prev, err = parseString(v)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", key, err)
		}
	})
	if scanErr != nil {
		return nil, scanErr
	}
	if err != nil {
		return nil, err
	}
	if seen != idBit|seqBit|prevBit {
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
