package archive

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// ProofHeader is the first line of a C2SP tlog-proof.
const ProofHeader = "c2sp.org/tlog-proof@v1"

// maxProofHashes bounds an inclusion proof (a tree of 2^63 leaves needs 63).
const maxProofHashes = 64

// Proof is an inclusion proof in the C2SP tlog-proof form: the entry's
// index, the RFC 6962 audit path, the signed checkpoint it leads to, and
// optional extra data (tlseal puts the entry's envelope there).
type Proof struct {
	Index      int64
	Hashes     []tlog.Hash
	Checkpoint []byte // the signed note
	Extra      []byte // nil: no extra line
}

// Marshal returns the proof's text:
//
//	c2sp.org/tlog-proof@v1
//	extra <base64>        (when Extra is set)
//	index <decimal>
//	<base64 hash>          (one line each, leaf to root)
//	<empty line>
//	<checkpoint note>
func (p *Proof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(ProofHeader + "\n")
	if p.Extra != nil {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Extra) + "\n")
	}
	b.WriteString("index " + strconv.FormatInt(p.Index, 10) + "\n")
	for _, h := range p.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	b.WriteByte('\n')
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ProofError says why a proof does not parse or verify.
type ProofError struct {
	Reason Reason // Malformed or BadSignature
	Msg    string
	Err    error
}

func (e *ProofError) Error() string {
	s := "tlog proof: " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ProofError) Unwrap() error { return e.Err }

func proofErr(r Reason, err error, format string, args ...any) *ProofError {
	return &ProofError{Reason: r, Msg: fmt.Sprintf(format, args...), Err: err}
}

// ParseProof parses a C2SP tlog-proof strictly. The checkpoint is returned
// as it is; VerifyProof checks it.
func ParseProof(data []byte) (*Proof, error) {
	if len(data) > maxCheckpointLen+(maxEnvelopeLen*4/3+16)+64*(maxProofHashes+2) {
		return nil, proofErr(ReasonMalformed, nil, "%d bytes is too long", len(data))
	}
	rest := string(data)
	line := func() (string, bool) {
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			return "", false
		}
		l := rest[:i]
		rest = rest[i+1:]
		return l, true
	}
	l, ok := line()
	if !ok || l != ProofHeader {
		return nil, proofErr(ReasonMalformed, nil, "the first line is not %q", ProofHeader)
	}
	p := &Proof{}
	if l, ok = line(); !ok {
		return nil, proofErr(ReasonMalformed, nil, "cut short after the header")
	}
	if e, found := strings.CutPrefix(l, "extra "); found {
		x, err := base64.StdEncoding.Strict().DecodeString(e)
		if err != nil {
			return nil, proofErr(ReasonMalformed, err, "extra data is not base64")
		}
		p.Extra = x
		if l, ok = line(); !ok {
			return nil, proofErr(ReasonMalformed, nil, "cut short after the extra line")
		}
	}
	s, found := strings.CutPrefix(l, "index ")
	if !found || s == "" || len(s) > 1 && s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
		return nil, proofErr(ReasonMalformed, nil, "no \"index N\" line")
	}
	idx, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, proofErr(ReasonMalformed, nil, "index %q is out of range", s)
	}
	p.Index = idx
	for {
		l, ok = line()
		if !ok {
			return nil, proofErr(ReasonMalformed, nil, "no empty line before the checkpoint")
		}
		if l == "" {
			break
		}
		h, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(h) != tlog.HashSize {
			return nil, proofErr(ReasonMalformed, err, "proof hash %q is not the base64 of 32 bytes", l)
		}
		if len(p.Hashes) == maxProofHashes {
			return nil, proofErr(ReasonMalformed, nil, "more than %d proof hashes", maxProofHashes)
		}
		p.Hashes = append(p.Hashes, tlog.Hash(h))
	}
	if rest == "" {
		return nil, proofErr(ReasonMalformed, nil, "no checkpoint")
	}
	p.Checkpoint = []byte(rest)
	return p, nil
}

// VerifyProof checks a proof: the checkpoint's signature by one of keys
// under origin, and the audit path from leaf (the entry's envelope bytes;
// nil: the proof's extra data) to the checkpoint's root. It returns the
// verified checkpoint.
func VerifyProof(p *Proof, origin string, leaf []byte, keys ...crypto.PublicKey) (*Checkpoint, error) {
	cp, err := OpenCheckpoint(p.Checkpoint, origin, keys...)
	if err != nil {
		return nil, proofErr(ReasonBadSignature, err, "the checkpoint does not verify")
	}
	if leaf == nil {
		leaf = p.Extra
	}
	if leaf == nil {
		return nil, proofErr(ReasonMalformed, nil, "no leaf: the proof has no extra data and none was given")
	}
	if p.Index < 0 || p.Index >= cp.Size {
		return nil, proofErr(ReasonBadSignature, nil, "index %d is outside the checkpoint's tree of %d entries", p.Index, cp.Size)
	}
	if err := tlog.CheckRecord(tlog.RecordProof(p.Hashes), cp.Size, cp.Root, p.Index, tlog.RecordHash(leaf)); err != nil {
		return nil, proofErr(ReasonBadSignature, err, "the audit path does not lead to the checkpoint's root")
	}
	return cp, nil
}

// VerifyConsistency checks that the tree of newer extends the tree of older
// (both verified checkpoints of the same origin) with a consistency proof
// from Reader.ConsistencyProof.
func VerifyConsistency(older, newer *Checkpoint, proof []tlog.Hash) error {
	if older.Origin != newer.Origin {
		return &ConsistencyError{Msg: fmt.Sprintf("origins differ (%s, %s)", older.Origin, newer.Origin)}
	}
	if older.Size > newer.Size {
		return &ConsistencyError{Truncated: true, Msg: fmt.Sprintf("the older checkpoint is larger (%d > %d)", older.Size, newer.Size)}
	}
	if older.Size == 0 {
		return nil // the empty tree is a prefix of every tree
	}
	if older.Size == newer.Size {
		if older.Root != newer.Root {
			return &ConsistencyError{Msg: "same size, different roots"}
		}
		return nil
	}
	if err := tlog.CheckTree(tlog.TreeProof(proof), newer.Size, newer.Root, older.Size, older.Root); err != nil {
		return &ConsistencyError{Msg: "the consistency proof does not verify: " + err.Error()}
	}
	return nil
}
