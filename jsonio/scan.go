// Package jsonio finds the top-level members of a JSON object in one
// streaming, linear pass, and splices or removes the "seal" member of the
// tlseal seal format v1 byte-exactly.
//
// Nothing is decoded into values and nothing is canonicalized: numbers,
// whitespace, escapes and duplicate keys are evidence and are reported as
// byte offsets into the input. Memory is constant in the input size except
// for one small entry per top-level key (to report duplicates).
//
// The package imports no other package of the project.
package jsonio

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// MaxDepth bounds nesting so that hostile input cannot grow the stack
// without limit. Real timeline files nest a handful of levels.
const MaxDepth = 1 << 20

// maxKeyDecode bounds how much of a top-level key is kept for decoding;
// longer keys are compared by digest.
const maxKeyDecode = 4096

// ErrNotObject means the input is JSON, but its top-level value is not an
// object (an array, a string, ...).
var ErrNotObject = errors.New("top-level value is not a JSON object")

// SyntaxError is malformed JSON at a byte offset.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// Member is one top-level member of the object, as byte offsets.
type Member struct {
	Index int // 0-based position among the members
	// SepOffset is the offset of the ',' that precedes the member, -1 for
	// the first member.
	SepOffset  int64
	KeyStart   int64 // offset of the key's opening quote
	KeyEnd     int64 // just past the key's closing quote
	ValueStart int64 // offset of the value's first byte
	ValueEnd   int64 // just past the value's last byte
	// Key is the decoded key ("" with KeyTooLong set when it is longer than
	// the decoder keeps).
	Key        string
	KeyTooLong bool
}

// SpliceStart is where a member begins for splicing: its separator, or its
// key when it is the first member.
func (m Member) SpliceStart() int64 {
	if m.SepOffset >= 0 {
		return m.SepOffset
	}
	return m.KeyStart
}

// Document is the top-level structure of a complete JSON object.
type Document struct {
	Size    int64 // bytes scanned
	BOM     bool  // a UTF-8 byte order mark precedes the object
	Open    int64 // offset of the top-level '{'
	Close   int64 // offset of the top-level '}'
	Members int
	// First and Last are the first and last members (meaningful when
	// Members > 0).
	First, Last Member
	// Duplicates lists each top-level key that occurs more than once, in
	// the order their second occurrence was seen.
	Duplicates []string
	// Count of top-level keys equal to "seal".
	SealKeys int
}

type state uint8

const (
	stStart state = iota
	stBOM1
	stBOM2
	stValue      // a value is expected
	stArrayStart // after '[': a value or ']'
	stKeyOrClose // after '{': a key or '}'
	stKey        // after ',' in an object: a key
	stColon      // after a key: ':'
	stAfter      // after a value: ',' or a closer
	stString
	stEscape
	stUnicode
	stNumMinus // after '-'
	stNumZero  // after a leading 0
	stNumInt   // in integer digits
	stNumDot   // after '.'
	stNumFrac  // in fraction digits
	stNumE     // after 'e'
	stNumESign // after exponent sign
	stNumExp   // in exponent digits
	stLiteral  // in true/false/null
	stDone     // after the top-level '}': whitespace only
)

// Scanner tokenizes a JSON object written to it in pieces (it is an
// io.Writer) and records the top-level structure.
type Scanner struct {
	// OnMember, when set, is called for every top-level member once its
	// value is complete.
	OnMember func(Member)

	off   int64
	st    state
	stack []byte // '{' or '[' per open container
	// string state
	strIsKey bool
	unicodeN int
	literal  string
	litPos   int
	err      error
	doc      Document
	started  bool
	cur      Member // member being read at depth 1
	keyBuf   []byte
	keyLong  bool
	keyArr   [64]byte // keyBuf's first backing array
	// The first top-level keys are counted in few (a linear search beats
	// hashing for the dozen keys of a typical object); seen takes over
	// when it is full.
	few       [16]keyCount
	nFew      int
	seen      map[string]int
	lastSplit int64 // SpliceStart of the latest top-level member seen, -1 before any
}

// NewScanner returns a Scanner at the start of its input.
func NewScanner() *Scanner {
	s := &Scanner{lastSplit: -1, cur: Member{SepOffset: -1}}
	s.keyBuf = s.keyArr[:0]
	return s
}

type keyCount struct {
	id string
	n  int
}

// count counts an occurrence of a top-level key and returns how many there
// have been.
func (s *Scanner) count(id string) int {
	if s.seen == nil {
		for i := range s.few[:s.nFew] {
			if s.few[i].id == id {
				s.few[i].n++
				return s.few[i].n
			}
		}
		if s.nFew < len(s.few) {
			s.few[s.nFew] = keyCount{id, 1}
			s.nFew++
			return 1
		}
		s.seen = make(map[string]int, 2*len(s.few))
		for _, kc := range s.few {
			s.seen[kc.id] = kc.n
		}
	}
	s.seen[id]++
	return s.seen[id]
}

// LatestSpliceStart is the splice start of the last top-level member whose
// key has been reached so far, or -1. Callers that hash while scanning use it
// to snapshot the hash where the last member begins.
func (s *Scanner) LatestSpliceStart() int64 { return s.lastSplit }

// Offset is the number of bytes scanned so far.
func (s *Scanner) Offset() int64 { return s.off }

// Complete reports whether the top-level object has been closed.
func (s *Scanner) Complete() bool { return s.st == stDone }

func (s *Scanner) fail(off int64, format string, args ...any) error {
	s.err = &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
	return s.err
}

// strClass marks bytes that end a fast run inside a string.
var strClass = func() (t [256]bool) {
	for i := 0; i < 0x20; i++ {
		t[i] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Write scans p. It returns an error (and keeps returning it) once the
// input is known not to be a JSON object.
func (s *Scanner) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	base := s.off
	for i := 0; i < len(p); i++ {
		c := p[i]
		off := base + int64(i)
		switch s.st {
		case stStart, stValue, stArrayStart:
			if s.st == stStart && !s.started {
				s.started = true
				if c == 0xEF {
					s.st = stBOM1
					continue
				}
			}
			if isSpace(c) {
				continue
			}
			if c == ']' && s.st == stArrayStart {
				if err := s.closeContainer(c, off); err != nil {
					return i, err
				}
				continue
			}
			if err := s.beginValue(c, off); err != nil {
				return i, err
			}
		case stBOM1, stBOM2:
			want := byte(0xBB)
			if s.st == stBOM2 {
				want = 0xBF
			}
			if c != want {
				return i, s.fail(off, "invalid byte order mark")
			}
			if s.st == stBOM1 {
				s.st = stBOM2
			} else {
				s.doc.BOM = true
				s.st = stStart
			}
		case stKeyOrClose, stKey:
			if isSpace(c) {
				continue
			}
			if c == '}' && s.st == stKeyOrClose {
				if err := s.closeContainer('{', off); err != nil {
					return i, err
				}
				continue
			}
			if c != '"' {
				return i, s.fail(off, "expected a string key, found %q", c)
			}
			s.beginString(true, off)
		case stColon:
			if isSpace(c) {
				continue
			}
			if c != ':' {
				return i, s.fail(off, "expected ':' after key, found %q", c)
			}
			s.st = stValue
			if len(s.stack) == 1 {
				s.cur.ValueStart = -1 // set when the value starts
			}
		case stAfter:
			if isSpace(c) {
				continue
			}
			top := s.stack[len(s.stack)-1]
			switch {
			case c == ',':
				if top == '{' {
					s.st = stKey
					if len(s.stack) == 1 {
						s.cur = Member{Index: s.doc.Members, SepOffset: off}
						s.lastSplit = off
					}
				} else {
					s.st = stValue
				}
			case c == '}' || c == ']':
				if err := s.closeContainer(c, off); err != nil {
					return i, err
				}
			default:
				return i, s.fail(off, "expected ',' or a closing bracket, found %q", c)
			}
		case stString:
			// Fast path: skip ordinary string bytes.
			j := i
			for j < len(p) && !strClass[p[j]] {
				j++
			}
			if s.strIsKey && len(s.stack) == 1 {
				s.appendKey(p[i:j])
			}
			if j == len(p) {
				i = j - 1
				continue
			}
			i = j
			c = p[i]
			off = base + int64(i)
			switch {
			case c == '"':
				s.endString(off)
			case c == '\\':
				if s.strIsKey && len(s.stack) == 1 {
					s.appendKey(p[i : i+1])
				}
				s.st = stEscape
			default:
				return i, s.fail(off, "unescaped control character 0x%02x in string", c)
			}
		case stEscape:
			if s.strIsKey && len(s.stack) == 1 {
				s.appendKey(p[i : i+1])
			}
			switch c {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.st = stString
			case 'u':
				s.st = stUnicode
				s.unicodeN = 0
			default:
				return i, s.fail(off, "invalid escape '\\%c'", c)
			}
		case stUnicode:
			if !isHex(c) {
				return i, s.fail(off, "invalid \\u escape")
			}
			if s.strIsKey && len(s.stack) == 1 {
				s.appendKey(p[i : i+1])
			}
			s.unicodeN++
			if s.unicodeN == 4 {
				s.st = stString
			}
		case stNumMinus:
			switch {
			case c == '0':
				s.st = stNumZero
			case c >= '1' && c <= '9':
				s.st = stNumInt
			default:
				return i, s.fail(off, "invalid number")
			}
		case stNumZero, stNumInt, stNumFrac, stNumExp:
			if c >= '0' && c <= '9' {
				if s.st == stNumZero {
					return i, s.fail(off, "invalid number: leading zero")
				}
				continue
			}
			if (c == '.') && (s.st == stNumZero || s.st == stNumInt) {
				s.st = stNumDot
				continue
			}
			if (c == 'e' || c == 'E') && s.st != stNumExp {
				s.st = stNumE
				continue
			}
			// The number ended before c; c is processed as what follows.
			if err := s.endValue(off); err != nil {
				return i, err
			}
			i--
		case stNumDot:
			if c < '0' || c > '9' {
				return i, s.fail(off, "invalid number: digit expected after '.'")
			}
			s.st = stNumFrac
		case stNumE:
			switch {
			case c == '+' || c == '-':
				s.st = stNumESign
			case c >= '0' && c <= '9':
				s.st = stNumExp
			default:
				return i, s.fail(off, "invalid number: exponent expected")
			}
		case stNumESign:
			if c < '0' || c > '9' {
				return i, s.fail(off, "invalid number: exponent digit expected")
			}
			s.st = stNumExp
		case stLiteral:
			if c != s.literal[s.litPos] {
				return i, s.fail(off, "invalid literal (expected %q)", s.literal)
			}
			s.litPos++
			if s.litPos == len(s.literal) {
				if err := s.endValue(off + 1); err != nil {
					return i, err
				}
			}
		case stDone:
			if !isSpace(c) {
				return i, s.fail(off, "data after the top-level object")
			}
		}
	}
	s.off = base + int64(len(p))
	return len(p), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *Scanner) beginValue(c byte, off int64) error {
	top := s.st == stStart
	if top && c != '{' {
		switch {
		case c == '[' || c == '"' || c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n':
			s.err = ErrNotObject
			return s.err
		default:
			return s.fail(off, "not JSON: unexpected %q", c)
		}
	}
	if len(s.stack) == 1 {
		s.cur.ValueStart = off
	}
	switch {
	case c == '{' || c == '[':
		if len(s.stack) >= MaxDepth {
			return s.fail(off, "nesting deeper than %d", MaxDepth)
		}
		s.stack = append(s.stack, c)
		if top {
			s.doc.Open = off
		}
		if c == '{' {
			s.st = stKeyOrClose
		} else {
			s.st = stArrayStart
		}
	case c == '"':
		s.beginString(false, off)
	case c == '-':
		s.st = stNumMinus
	case c == '0':
		s.st = stNumZero
	case c >= '1' && c <= '9':
		s.st = stNumInt
	case c == 't':
		s.literal, s.litPos, s.st = "true", 1, stLiteral
	case c == 'f':
		s.literal, s.litPos, s.st = "false", 1, stLiteral
	case c == 'n':
		s.literal, s.litPos, s.st = "null", 1, stLiteral
	default:
		return s.fail(off, "expected a value, found %q", c)
	}
	return nil
}

func (s *Scanner) beginString(isKey bool, off int64) {
	s.st = stString
	s.strIsKey = isKey
	if isKey && len(s.stack) == 1 {
		s.cur.KeyStart = off
		s.keyBuf = append(s.keyBuf[:0], '"')
		s.keyLong = false
		if s.cur.SepOffset < 0 {
			s.lastSplit = off
		}
	}
}

func (s *Scanner) appendKey(b []byte) {
	if s.keyLong {
		return
	}
	if len(s.keyBuf)+len(b) > maxKeyDecode {
		s.keyLong = true
		return
	}
	s.keyBuf = append(s.keyBuf, b...)
}

func (s *Scanner) endString(off int64) {
	if !s.strIsKey {
		s.endValue(off + 1)
		return
	}
	s.st = stColon
	if len(s.stack) != 1 {
		return
	}
	s.cur.KeyEnd = off + 1
	var id string
	if s.keyLong {
		s.cur.Key, s.cur.KeyTooLong = "", true
		// Long keys are told apart by their raw bytes' digest, which misses
		// only duplicates spelled with different escapes.
		sum := sha256.Sum256(s.keyBuf)
		id = "\x00" + string(sum[:])
	} else {
		raw := s.keyBuf[1:] // without the opening quote
		k := string(raw)
		if bytes.IndexByte(raw, '\\') >= 0 {
			k = decodeKey(append(s.keyBuf, '"'), k)
		}
		s.cur.Key, s.cur.KeyTooLong = k, false
		id = k
	}
	// Each duplicated key is listed once, however often it repeats.
	if s.count(id) == 2 {
		s.doc.Duplicates = append(s.doc.Duplicates, s.cur.Key)
	}
	if !s.keyLong && s.cur.Key == "seal" {
		s.doc.SealKeys++
	}
}

// decodeKey decodes the quoted key q, or returns raw when it does not
// decode (the scanner validated it; the raw form is kept). Apart from
// endString so that the common, escape-free key is not moved to the heap.
func decodeKey(q []byte, raw string) string {
	var k string
	if err := json.Unmarshal(q, &k); err != nil {
		return raw
	}
	return k
}

// endValue records that a value ended just before end.
func (s *Scanner) endValue(end int64) error {
	s.st = stAfter
	if len(s.stack) == 1 {
		s.cur.ValueEnd = end
		s.cur.Index = s.doc.Members
		s.doc.Members++
		if s.cur.Index == 0 {
			s.doc.First = s.cur
		}
		s.doc.Last = s.cur
		if s.OnMember != nil {
			s.OnMember(s.cur)
		}
	}
	return nil
}

func (s *Scanner) closeContainer(c byte, off int64) error {
	open := byte('{')
	if c == ']' {
		open = '['
	}
	if s.stack[len(s.stack)-1] != open {
		return s.fail(off, "mismatched %q", c)
	}
	s.stack = s.stack[:len(s.stack)-1]
	if len(s.stack) == 0 {
		s.doc.Close = off
		s.st = stDone
		return nil
	}
	return s.endValue(off + 1)
}

// Finish ends the input and returns the document's structure, or why the
// input is not one complete JSON object.
func (s *Scanner) Finish() (*Document, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.st != stDone {
		if s.st == stStart || s.st == stBOM1 || s.st == stBOM2 {
			return nil, s.fail(s.off, "not JSON: no value")
		}
		return nil, s.fail(s.off, "unexpected end of input (the object is not closed)")
	}
	d := s.doc
	d.Size = s.off
	return &d, nil
}

// Scan reads a whole JSON object from p.
func Scan(p []byte) (*Document, error) {
	s := getScanner()
	defer putScanner(s)
	if _, err := s.Write(p); err != nil {
		return nil, err
	}
	return s.Finish()
}

// ScanMembers reads a whole JSON object from p, calling onMember for each
// top-level member (Scanner.OnMember), and returns the first syntax error.
func ScanMembers(p []byte, onMember func(Member)) error {
	s := getScanner()
	defer putScanner(s)
	s.OnMember = onMember
	if _, err := s.Write(p); err != nil {
		return err
	}
	_, err := s.Finish()
	return err
}

// Scan and ScanMembers take their scanners from a pool: a verifier scans
// two or three small objects per sealed file (the document, its envelope,
// the chain link), and a new Scanner each time was the largest part of an
// audit's garbage.
var scanners = sync.Pool{New: func() any { return NewScanner() }}

func getScanner() *Scanner { return scanners.Get().(*Scanner) }

// putScanner makes s a new Scanner again (nothing of its last input is
// left: a Document that Finish returned is a copy, and its Duplicates are
// not reused) and pools it. A stack grown by deep nesting is dropped.
func putScanner(s *Scanner) {
	stack := s.stack[:0]
	if cap(stack) > 256 {
		stack = nil
	}
	*s = Scanner{stack: stack, lastSplit: -1, cur: Member{SepOffset: -1}}
	s.keyBuf = s.keyArr[:0]
	scanners.Put(s)
}
