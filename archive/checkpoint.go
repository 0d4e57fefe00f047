package archive

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoints are C2SP tlog-checkpoint bodies in C2SP signed notes, signed
// with ECDSA over SHA-256 of the note text (signature type 0x02, key hash =
// the first 4 bytes of SHA-256 of the key's SubjectPublicKeyInfo DER), the
// scheme of github.com/transparency-dev/formats/note.NewECDSAVerifier. The
// key name in the signature line is the archive's origin.

// algECDSAWithSHA256 is the signature type byte of ECDSA note keys.
const algECDSAWithSHA256 = 0x02

// maxCheckpointLen bounds a checkpoint note read from disk or a proof.
const maxCheckpointLen = 64 << 10

// Checkpoint is a parsed checkpoint: the tree head and the signed note it
// came from.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	// Extensions are the body lines after the root hash (none are
	// written by tlseal; others' are kept).
	Extensions []string
	// Note is the complete signed note, as stored.
	Note []byte
	// KeyHash identifies the key whose signature was verified (0 when the
	// checkpoint was only parsed).
	KeyHash uint32
}

// Body returns the checkpoint body: origin, size, base64 root, one per line.
func (c *Checkpoint) Body() []byte {
	return marshalCheckpointBody(c.Origin, c.Size, c.Root, c.Extensions)
}

func marshalCheckpointBody(origin string, size int64, root tlog.Hash, ext []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
	for _, e := range ext {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// CheckpointError says why a checkpoint is not acceptable.
type CheckpointError struct {
	Reason Reason // Malformed or BadSignature
	Msg    string
	Err    error
}

func (e *CheckpointError) Error() string {
	s := "checkpoint: " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *CheckpointError) Unwrap() error { return e.Err }

func cpErr(r Reason, err error, format string, args ...any) *CheckpointError {
	return &CheckpointError{Reason: r, Msg: fmt.Sprintf(format, args...), Err: err}
}

// ParseCheckpointBody parses a C2SP tlog-checkpoint body strictly: a
// non-empty origin line, a decimal size without leading zeros (below
// 2^63), the standard base64 of a 32-byte root, and optional non-empty
// extension lines, every line ending in '\n'.
func ParseCheckpointBody(body []byte) (*Checkpoint, error) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, cpErr(ReasonMalformed, nil, "the body does not end with a newline")
	}
	if !utf8.Valid(body) {
		return nil, cpErr(ReasonMalformed, nil, "the body is not valid UTF-8")
	}
	lines := strings.Split(string(body[:len(body)-1]), "\n")
	if len(lines) < 3 {
		return nil, cpErr(ReasonMalformed, nil, "%d lines, a checkpoint has at least 3", len(lines))
	}
	c := &Checkpoint{Origin: lines[0]}
	if !validKeyName(c.Origin) {
		return nil, cpErr(ReasonMalformed, nil, "origin %q is empty or holds spaces or '+'", c.Origin)
	}
	s := lines[1]
	if s == "" || len(s) > 1 && s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
		return nil, cpErr(ReasonMalformed, nil, "size %q is not a decimal number", s)
	}
	size, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, cpErr(ReasonMalformed, nil, "size %q is out of range", s)
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return nil, cpErr(ReasonMalformed, nil, "root %q is not the base64 of 32 bytes", lines[2])
	}
	copy(c.Root[:], root)
	for _, e := range lines[3:] {
		if e == "" {
			return nil, cpErr(ReasonMalformed, nil, "empty extension line")
		}
		c.Extensions = append(c.Extensions, e)
	}
	return c, nil
}

// validKeyName is the signed-note rule for key names (and tlseal's for
// origins): non-empty, valid UTF-8, no white space, no '+'.
func validKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 &&
		!strings.Contains(name, "+") && strings.IndexFunc(name, unicode.IsControl) < 0
}

// KeyHash returns the signed-note key hash of an ECDSA public key: the first
// four bytes of SHA-256 of its SubjectPublicKeyInfo DER, big-endian.
func KeyHash(pub crypto.PublicKey) (uint32, error) {
	der, err := spki(pub)
	if err != nil {
		return 0, err
	}
	h := sha256.Sum256(der)
	return binary.BigEndian.Uint32(h[:4]), nil
}

func spki(pub crypto.PublicKey) ([]byte, error) {
	if _, ok := pub.(*ecdsa.PublicKey); !ok {
		return nil, fmt.Errorf("checkpoint keys are ECDSA, not %T", pub)
	}
	return x509.MarshalPKIXPublicKey(pub)
}

// VerifierKey returns the signed-note verifier key for an archive's origin
// and its checkpoint signer's public key, in the form that
// transparency-dev/formats/note.NewECDSAVerifier reads:
// "<origin>+<keyhash hex>+<base64(0x02 || SPKI DER)>".
func VerifierKey(origin string, pub crypto.PublicKey) (string, error) {
	der, err := spki(pub)
	if err != nil {
		return "", err
	}
	if !validKeyName(origin) {
		return "", errorf(ReasonInvalidArgument, "", nil, "origin %q is not a valid key name", origin)
	}
	h := sha256.Sum256(der)
	return fmt.Sprintf("%s+%08x+%s", origin, binary.BigEndian.Uint32(h[:4]),
		base64.StdEncoding.EncodeToString(append([]byte{algECDSAWithSHA256}, der...))), nil
}

// noteSigner signs notes with an ECDSA key (note.Signer).
type noteSigner struct {
	name          string
	hash          uint32
	key           crypto.Signer
	deterministic bool
}

func newNoteSigner(name string, key crypto.Signer, deterministic bool) (*noteSigner, error) {
	h, err := KeyHash(key.Public())
	if err != nil {
		return nil, err
	}
	return &noteSigner{name: name, hash: h, key: key, deterministic: deterministic}, nil
}

func (s *noteSigner) Name() string    { return s.name }
func (s *noteSigner) KeyHash() uint32 { return s.hash }
func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	var random io.Reader = rand.Reader
	if s.deterministic {
		random = nil
	}
	return s.key.Sign(random, d[:], crypto.SHA256)
}

// noteVerifier checks ECDSA note signatures (note.Verifier).
type noteVerifier struct {
	name string
	hash uint32
	pub  *ecdsa.PublicKey
}

func newNoteVerifier(name string, pub crypto.PublicKey) (*noteVerifier, error) {
	h, err := KeyHash(pub)
	if err != nil {
		return nil, err
	}
	return &noteVerifier{name: name, hash: h, pub: pub.(*ecdsa.PublicKey)}, nil
}

func (v *noteVerifier) Name() string    { return v.name }
func (v *noteVerifier) KeyHash() uint32 { return v.hash }
func (v *noteVerifier) Verify(msg, sig []byte) bool {
	d := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(v.pub, d[:], sig)
}

// signCheckpoint makes the signed note of a tree head.
func signCheckpoint(origin string, size int64, root tlog.Hash, s *noteSigner) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(marshalCheckpointBody(origin, size, root, nil))}, s)
}

// OpenCheckpoint verifies a signed checkpoint note against the keys that may
// have signed it (the note's key name must be origin) and parses its body,
// whose origin must be origin too. Signatures by other keys (witness
// cosignatures) are ignored.
func OpenCheckpoint(msg []byte, origin string, keys ...crypto.PublicKey) (*Checkpoint, error) {
	if len(msg) > maxCheckpointLen {
		return nil, cpErr(ReasonMalformed, nil, "%d bytes, more than the %d allowed", len(msg), maxCheckpointLen)
	}
	var vs []note.Verifier
	for _, k := range keys {
		v, err := newNoteVerifier(origin, k)
		if err != nil {
			return nil, cpErr(ReasonBadSignature, err, "checkpoint key")
		}
		vs = append(vs, v)
	}
	n, err := note.Open(msg, note.VerifierList(vs...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return nil, cpErr(ReasonBadSignature, nil, "no signature by a known key of %s", origin)
		case errors.As(err, &invalid):
			return nil, cpErr(ReasonBadSignature, nil, "the signature by key %s+%08x does not verify", invalid.Name, invalid.Hash)
		default:
			return nil, cpErr(ReasonMalformed, err, "not a signed note")
		}
	}
	c, err := ParseCheckpointBody([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	if c.Origin != origin {
		return nil, cpErr(ReasonBadSignature, nil, "origin is %q, the archive's is %q", c.Origin, origin)
	}
	c.Note = append([]byte(nil), msg...)
	c.KeyHash = n.Sigs[0].Hash
	return c, nil
}

// ParseCheckpoint parses a signed checkpoint note without verifying its
// signature: the body, and the key hash of the first signature whose key
// name is the body's origin. It is for tools that must first find the key.
func ParseCheckpoint(msg []byte) (*Checkpoint, error) {
	if len(msg) > maxCheckpointLen {
		return nil, cpErr(ReasonMalformed, nil, "%d bytes, more than the %d allowed", len(msg), maxCheckpointLen)
	}
	_, err := note.Open(msg, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return nil, cpErr(ReasonMalformed, err, "not a signed note")
	}
	n := unverified.Note
	c, err := ParseCheckpointBody([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	found := false
	for _, s := range n.UnverifiedSigs {
		if s.Name == c.Origin {
			c.KeyHash, found = s.Hash, true
			break
		}
	}
	if !found {
		return nil, cpErr(ReasonMalformed, nil, "no signature line for origin %s", c.Origin)
	}
	c.Note = append([]byte(nil), msg...)
	return c, nil
}
