package timeline

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// One valid byte form. A seal is accepted only in exactly the bytes the
// sealer writes: two different files with one verdict would break
// deduplication by hash, make the Merkle leaf differ from the examiner's
// copy, and invite "which copy is the evidence?". The rules (docs/format.md,
// "One byte form"):
//   - the envelope bytes equal the canonical serialization of its members
//     (Envelope.Marshal: JCS, the members the sealer writes, sig included);
//   - certPem and chainPem are PEM exactly as encoding/pem writes it: no text
//     before, between or after the blocks, no headers, LF line endings, 64
//     columns, canonical base64;
//   - sig is standard base64 with padding and no line breaks of a strict DER
//     ECDSA-Sig-Value (minimal lengths and integers, nothing after it);
//   - the signature is low-S (s ≤ n/2): tlseal signs so from now on. A
//     version-1 seal with a high-S signature still verifies (seals made
//     before carry one half of the time) with the warning signature.highS.

// Codes of the one-byte-form rule.
const (
	CodeSealNonCanonical = "seal.nonCanonical" // the envelope or its PEM is not in the sealer's byte form
	CodeSignatureHighS   = "signature.highS"   // a valid version-1 signature with s > n/2 (accepted, reported)
)

// nonCanonical says how raw, the envelope bytes of a file, differ from the
// one byte form of the envelope e parsed from them, or "" when they do not.
func nonCanonical(e *Envelope, raw []byte) string {
	// Serialized into a stack buffer (it fits for a usual certificate):
	// only compared, never kept.
	var buf [4096]byte
	if !bytes.Equal(e.appendCanonical(buf[:0], true), raw) {
		return "the envelope bytes are not its canonical serialization (member order, white space, escapes or number form differ from what the sealer writes)"
	}
	if !canonicalPEM(e.CertPEM, 1, 1) {
		return "certPem is not one certificate in the PEM form the sealer writes (text around the block, headers, CRLF, line length or base64 form differ)"
	}
	if !canonicalPEM(e.ChainPEM, 0, -1) {
		return "chainPem is not certificates in the PEM form the sealer writes (text around or between the blocks, headers, CRLF, line length or base64 form differ)"
	}
	return ""
}

// canonicalPEMs remembers the certPem and chainPem values found canonical:
// every seal of a recorder carries the same certificate, and an audit
// would otherwise decode and re-encode it once per file. Bounded: past
// maxCanonicalPEMs values it is cleared and starts again.
var canonicalPEMs struct {
	sync.Mutex
	m map[pemKey]bool
}

type pemKey struct {
	s        string
	min, max int
}

const maxCanonicalPEMs = 256

// canonicalPEM reports whether s is between min and max (-1: any number)
// CERTIFICATE blocks, each exactly as pem.EncodeToMemory writes it, and
// nothing else.
func canonicalPEM(s string, min, max int) bool {
	if s == "" {
		return min == 0
	}
	k := pemKey{s, min, max}
	canonicalPEMs.Lock()
	ok := canonicalPEMs.m[k]
	canonicalPEMs.Unlock()
	if ok {
		return true
	}
	if !checkCanonicalPEM(s, min, max) {
		return false
	}
	canonicalPEMs.Lock()
	if canonicalPEMs.m == nil || len(canonicalPEMs.m) >= maxCanonicalPEMs {
		canonicalPEMs.m = map[pemKey]bool{}
	}
	canonicalPEMs.m[k] = true
	canonicalPEMs.Unlock()
	return true
}

func checkCanonicalPEM(s string, min, max int) bool {
	rest := []byte(s)
	n := 0
	for len(rest) > 0 {
		block, after := pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" || len(block.Headers) > 0 {
			return false
		}
		if enc := pem.EncodeToMemory(block); !bytes.HasPrefix(rest, enc) || len(rest)-len(after) != len(enc) {
			return false
		}
		rest = after
		n++
	}
	return n >= min && (max < 0 || n <= max)
}

// decodeSig decodes sig: standard base64 with padding, canonical (the
// decoder skips line breaks, so the encoding is compared), of a strict DER
// ECDSA-Sig-Value.
func decodeSig(sig string) (der []byte, r, s *big.Int, err error) {
	der, err = strictBase64.DecodeString(sig)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sig is not standard base64: %w", err)
	}
	if strictBase64.EncodedLen(len(der)) != len(sig) {
		return nil, nil, nil, fmt.Errorf("sig is not canonical base64 (line breaks or other bytes the decoder skips)")
	}
	r, s = new(big.Int), new(big.Int)
	in := cryptobyte.String(der)
	var inner cryptobyte.String
	if !in.ReadASN1(&inner, cbasn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(r) || !inner.ReadASN1Integer(s) || !inner.Empty() ||
		r.Sign() <= 0 || s.Sign() <= 0 {
		return nil, nil, nil, fmt.Errorf("sig is not a strict DER ECDSA signature")
	}
	// cryptobyte reads minimal DER; the re-encoding pins it.
	if !bytes.Equal(encodeSig(r, s), der) {
		return nil, nil, nil, fmt.Errorf("sig is not a strict DER ECDSA signature")
	}
	return der, r, s, nil
}

// encodeSig is the DER ECDSA-Sig-Value of (r, s).
func encodeSig(r, s *big.Int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.BytesOrPanic()
}

// isHighS reports whether s > n/2 for the key's curve.
func isHighS(pub *ecdsa.PublicKey, s *big.Int) bool {
	return s.Cmp(halfOrder(pub.Curve)) > 0
}

// halfOrders are n/2 of the curves tlseal signs with, computed once:
// every seal verified asks.
var halfOrders = sync.OnceValue(func() map[elliptic.Curve]*big.Int {
	m := map[elliptic.Curve]*big.Int{}
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		m[c] = new(big.Int).Rsh(c.Params().N, 1)
	}
	return m
})

func halfOrder(c elliptic.Curve) *big.Int {
	switch c {
	case elliptic.P256(), elliptic.P384(), elliptic.P521():
		return halfOrders()[c]
	}
	return new(big.Int).Rsh(c.Params().N, 1)
}

// lowS rewrites a DER ECDSA signature to its low-S twin (r, n−s) when s is
// high: both verify, and only the low-S one is a valid version-2 seal.
func lowS(pub *ecdsa.PublicKey, der []byte) ([]byte, error) {
	_, r, s, err := decodeSig(base64.StdEncoding.EncodeToString(der))
	if err != nil {
		return nil, fmt.Errorf("the key returned a signature that is not strict DER: %w", err)
	}
	if !isHighS(pub, s) {
		return der, nil
	}
	return encodeSig(r, new(big.Int).Sub(pub.Curve.Params().N, s)), nil
}

// HighS reports whether the envelope's signature decodes and is high-S
// for cert's key (a version-1 seal made before tlseal signed low-S only).
func HighS(e *Envelope, pub *ecdsa.PublicKey) bool {
	_, _, s, err := decodeSig(e.Sig)
	return err == nil && isHighS(pub, s)
}
