package timeline

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"github.com/tlseal/tlseal/tsa"
	"io"
	"time"

	"github.com/tlseal/tlseal/jsonio"
	"github.com/tlseal/tlseal/riffio"
)

// SealOptions says how to seal one file.
type SealOptions struct {
	// Name is recorded in the envelope: the path relative to a watched
	// root ('/'-separated) or the base name of a standalone file.
	Name   string
	Signer *Signer
	// Time is the sealing time (default: now). It is truncated to
	// milliseconds, the precision of signedAt.
	Time time.Time
	// Chain, when set, links the seal into an archive's chain.
	Chain *Chain
	// Timestamp, when set, obtains an RFC 3161 TimeStampToken (DER) over
	// the seal's DER signature (its messageImprint is the signature's
	// SHA-256); the seal is then version 2 with the token in tst. It runs
	// after signing and before anything of the envelope is written, so
	// the token is inside the envelope bytes (the Merkle leaf, the next
	// seal's chain.prev). An error fails the seal with ReasonTimestamp; a
	// nil token and nil error make a version-1 seal (a caller that seals
	// without a token when the TSA is down, and says so).
	Timestamp func(sig []byte) ([]byte, error)
}

// Sealed is the outcome of sealing.
type Sealed struct {
	Envelope      *Envelope
	EnvelopeBytes []byte
	Size          int64 // the original's length
	SealedSize    int64
}

// DetectKind looks at the first bytes of a file: RIFF (or RF64/BW64, which
// v1 refuses later) or, failing that, JSON.
func DetectKind(r io.ReaderAt) (Kind, error) {
	var b [4]byte
	n, err := r.ReadAt(b[:], 0)
	if err != nil && err != io.EOF {
		return "", newError(ReasonIO, err, "reading the file header")
	}
	switch string(b[:n]) {
	case "RIFF", "RF64", "BW64":
		return KindRIFF, nil
	}
	return KindJSON, nil
}

// Seal reads the original file src (size bytes) once, hashing while it
// writes the sealed file to dst, and signs the envelope. On error, dst holds
// garbage: callers write to a temporary file and discard it.
func Seal(dst io.WriteSeeker, src io.ReaderAt, size int64, opts SealOptions) (*Sealed, error) {
	if opts.Signer == nil {
		return nil, errors.New("no signer")
	}
	kind, err := DetectKind(src)
	if err != nil {
		return nil, err
	}
	t := opts.Time
	if t.IsZero() {
		t = time.Now()
	}
	env := &Envelope{
		V:        Version,
		Kind:     kind,
		Name:     cleanString(opts.Name),
		Size:     size,
		SignedAt: t.UTC().Truncate(time.Millisecond),
		Chain:    opts.Chain,
	}
	sign := func(e *Envelope) error {
		if opts.Timestamp != nil {
			e.V = VersionTimestamped // v is signed: decided before signing
		}
		if err := opts.Signer.sign(e); err != nil {
			return err
		}
		if ok, err := stamp(e, opts.Timestamp); err != nil || ok || opts.Timestamp == nil {
			return err
		}
		// No token after all: a version-1 seal, signed again as such.
		e.V = Version
		return opts.Signer.sign(e)
	}
	var sealedSize int64
	if kind == KindRIFF {
		sealedSize, err = sealRIFF(dst, src, size, env, sign)
	} else {
		sealedSize, err = sealJSON(dst, src, size, env, sign)
	}
	if err != nil {
		return nil, err
	}
	return &Sealed{Envelope: env, EnvelopeBytes: env.Marshal(), Size: size, SealedSize: sealedSize}, nil
}

func sealRIFF(dst io.WriteSeeker, src io.ReaderAt, size int64, env *Envelope, sign func(*Envelope) error) (int64, error) {
	riffSize, _, err := riffio.ReadHeader(src, size)
	switch {
	case errors.Is(err, riffio.ErrRF64), errors.Is(err, riffio.ErrTooLarge):
		return 0, newError(ReasonTooLarge, err, "")
	case err != nil && errors.Is(err, riffio.ErrShort), errors.Is(err, riffio.ErrNotRIFF):
		return 0, newError(ReasonNotRIFF, err, "")
	case err != nil:
		return 0, newError(ReasonIO, err, "reading the RIFF header")
	}
	if _, ok, err := riffio.LocateSeal(src, size); err != nil {
		return 0, newError(ReasonIO, err, "")
	} else if ok {
		return 0, newError(ReasonAlreadySealed, nil, "a seal chunk ends the file")
	}
	h := sha256.New()
	// The original's header goes into the digest as it is; the sealed file
	// gets a placeholder size, patched once the envelope's length is known.
	header := riffio.OriginalHeader(riffSize)
	h.Write(header)
	if _, err := dst.Write(riffio.SealedHeader(8)); err != nil {
		return 0, newError(ReasonIO, err, "writing")
	}
	n, ok, err := copyHashingFile(dst, h, src, 8, size-8)
	if !ok {
		n, err = copyHashing(dst, h, io.NewSectionReader(src, 8, size-8), size-8)
	}
	if err != nil {
		return 0, err
	} else if n != size-8 {
		return 0, errShrank(size, n+8)
	}
	rs := int64(riffSize)
	env.RIFFSize = &rs
	env.SHA256 = hex.EncodeToString(h.Sum(nil))
	if err := sign(env); err != nil {
		return 0, err
	}
	envBytes := env.Marshal()
	total := riffio.SealedLength(size, len(envBytes))
	if total >= riffio.MaxSize {
		return 0, newError(ReasonTooLarge, nil, "the sealed file would reach 4 GiB")
	}
	if _, err := dst.Write(riffio.SealTrailer(size, envBytes)); err != nil {
		return 0, newError(ReasonIO, err, "writing")
	}
	if _, err := dst.Seek(0, io.SeekStart); err != nil {
		return 0, newError(ReasonIO, err, "seeking")
	}
	if _, err := dst.Write(riffio.SealedHeader(total)); err != nil {
		return 0, newError(ReasonIO, err, "writing")
	}
	if _, err := dst.Seek(0, io.SeekEnd); err != nil {
		return 0, newError(ReasonIO, err, "seeking")
	}
	return total, nil
}

// errShrank reports a file that ended before the size it had when sealing
// began: it is being rewritten, and a seal now would be of no fixed content.
func errShrank(want, got int64) error {
	return newError(ReasonIO, nil, "the file changed while it was read (%d bytes expected, %d read)", want, got)
}

// maxJSONTail bounds the whitespace kept in memory after the top-level
// '}' (it is written after the seal).
const maxJSONTail = 16 << 20

func sealJSON(dst io.WriteSeeker, src io.ReaderAt, size int64, env *Envelope, sign func(*Envelope) error) (int64, error) {
	sc := jsonio.NewScanner()
	h := sha256.New()
	buf, release := getBuf(size)
	defer release()
	var tail []byte // the original's bytes from its closing '}' on
	r := io.NewSectionReader(src, 0, size)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			p := buf[:n]
			base := sc.Offset()
			wasComplete := sc.Complete()
			if _, err := sc.Write(p); err != nil {
				return 0, jsonError(err)
			}
			h.Write(p)
			switch {
			case wasComplete:
				tail = append(tail, p...)
			case sc.Complete():
				doc, _ := sc.Finish() // complete: cannot fail
				cut := doc.Close - base
				if _, err := dst.Write(p[:cut]); err != nil {
					return 0, newError(ReasonIO, err, "writing")
				}
				tail = append(tail, p[cut:]...)
			default:
				if _, err := dst.Write(p); err != nil {
					return 0, newError(ReasonIO, err, "writing")
				}
			}
			if len(tail) > maxJSONTail {
				return 0, newError(ReasonNotJSON, nil, "more than %d bytes of whitespace after the object", maxJSONTail)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return 0, newError(ReasonIO, rerr, "reading")
		}
	}
	if sc.Offset() != size {
		return 0, errShrank(size, sc.Offset())
	}
	doc, err := sc.Finish()
	if err != nil {
		return 0, jsonError(err)
	}
	if doc.SealKeys > 0 {
		return 0, newError(ReasonAlreadySealed, nil, "the object has a top-level \"seal\" member")
	}
	env.SHA256 = hex.EncodeToString(h.Sum(nil))
	if err := sign(env); err != nil {
		return 0, err
	}
	splice := jsonio.SealSplice(doc.Members > 0, env.Marshal())
	if _, err := dst.Write(splice); err != nil {
		return 0, newError(ReasonIO, err, "writing")
	}
	if _, err := dst.Write(tail); err != nil {
		return 0, newError(ReasonIO, err, "writing")
	}
	return size + int64(len(splice)), nil
}

func jsonError(err error) error {
	var se *jsonio.SyntaxError
	switch {
	case errors.Is(err, jsonio.ErrNotObject):
		return newError(ReasonNotObject, nil, "the top-level value is not an object")
	case errors.As(err, &se) && se.Offset == 0:
		return newError(ReasonNotTimeline, nil, "neither RIFF nor a JSON object (%v)", err)
	default:
		return newError(ReasonNotJSON, err, "")
	}
}

// stamp adds the token that timestamp returns for e's signature (e is
// version 2 already); ok is false when there is no token.
func stamp(e *Envelope, timestamp func(sig []byte) ([]byte, error)) (ok bool, err error) {
	if timestamp == nil {
		return false, nil
	}
	sig, err := e.SignatureDER()
	if err != nil {
		return false, newError(ReasonSign, err, "decoding the signature")
	}
	tok, err := timestamp(sig)
	if err != nil {
		return false, newError(ReasonTimestamp, err, "")
	}
	if len(tok) == 0 {
		return false, nil
	}
	if len(tok) > MaxTokenSize {
		return false, newError(ReasonTimestamp, nil, "the token is %d bytes (at most %d)", len(tok), MaxTokenSize)
	}
	// A token that would make the seal fail forever is refused before
	// anything is written: one that does not parse, or whose time is
	// before signedAt (this machine's clock ahead of the TSA's beyond the
	// token's accuracy: timestamp.afterSignedAt for every verifier).
	t, err := tsa.Parse(tok)
	if err != nil {
		return false, newError(ReasonTimestamp, err, "the TSA's token")
	}
	if latest := t.GenTime.Add(t.Accuracy); e.SignedAt.After(latest) {
		return false, newError(ReasonTimestamp, nil, "the TSA's time %s (accuracy %v) is before this seal's signedAt %s: this machine's clock is ahead of the TSA's; correct it (NTP)",
			t.GenTime.UTC().Format(time.RFC3339Nano), t.Accuracy, e.SignedAt.UTC().Format(TimeLayout))
	}
	e.TST = base64.StdEncoding.EncodeToString(tok)
	return true, nil
}

// Hex is a convenience for digests.
func Hex(b []byte) string { return hex.EncodeToString(b) }
