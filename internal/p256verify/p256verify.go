// Package p256verify verifies ECDSA P-256 signatures faster when many of
// them are made by one key, as in an audit of an archive or of a directory:
// from the Threshold-th signature a key is asked to verify, the point
// multiplication by that key uses a table of the key's multiples built once
// (32 × 255 points, about 765 KiB; at most 8 keys get one), which makes one verification about 2.5
// times cheaper than crypto/ecdsa's. Other curves, and keys seen fewer
// times, go to crypto/ecdsa.
//
// The equation is the one of SEC 1 §4.1.4 and FIPS 186-5 §6.4.2, computed
// with the complete group operations of filippo.io/nistec (the exported copy
// of the standard library's own curve code): only public values are
// involved, so nothing here needs to be constant-time. The tests compare
// every answer with crypto/ecdsa's, on crafted edge cases and under fuzzing.
// In FIPS 140-3 mode (GODEBUG=fips140=on or only) every verification is
// crypto/ecdsa's, the validated module's.
package p256verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"math/big"
	"sync"
	"sync/atomic"

	"filippo.io/nistec"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Threshold is the number of verifications by one key after which the key
// gets its table: building it costs about as much as 70 verifications, so a
// single file's verification never pays for it.
const Threshold = 64

// maxTables bounds the memory the tables take: an archive signed by more
// keys verifies the others with crypto/ecdsa.
const maxTables = 8

var (
	n     = elliptic.P256().Params().N
	nMin1 = new(big.Int).Sub(n, big.NewInt(1))

	mu     sync.Mutex
	keys   = map[[65]byte]*keyState{}
	tables int
)

// keyState counts the uses of one key and holds its table once built.
type keyState struct {
	uses  atomic.Int64
	table atomic.Pointer[table]
}

// table[i][j-1] is j·256^i·Q, for the 32 bytes of a scalar.
type table [32][255]nistec.P256Point

// VerifyASN1 reports whether sig, an ASN.1 DER ECDSA signature, is a valid
// signature of hash by pub. It gives the answer of ecdsa.VerifyASN1.
func VerifyASN1(pub *ecdsa.PublicKey, hash, sig []byte) bool {
	if pub == nil || pub.Curve != elliptic.P256() || fips140.Enabled() {
		return ecdsa.VerifyASN1(pub, hash, sig)
	}
	t := tableFor(pub)
	if t == nil {
		return ecdsa.VerifyASN1(pub, hash, sig)
	}
	return t.verifyASN1(hash, sig)
}

// HasTable reports whether pub's verifications now use its table (for
// tests and diagnostics: an answer never depends on it).
func HasTable(pub *ecdsa.PublicKey) bool {
	key, ok := keyOf(pub)
	if !ok {
		return false
	}
	mu.Lock()
	k := keys[key]
	mu.Unlock()
	return k != nil && k.table.Load() != nil
}

// keyOf is the uncompressed point of a valid P-256 key, the map's key.
func keyOf(pub *ecdsa.PublicKey) ([65]byte, bool) {
	b, err := pub.Bytes()
	if err != nil || len(b) != 65 {
		return [65]byte{}, false
	}
	return [65]byte(b), true
}

// tableFor returns pub's table, building it on the Threshold-th use; nil
// before, or when maxTables are built already, or when pub is not a valid
// P-256 key (crypto/ecdsa then gives the answer).
func tableFor(pub *ecdsa.PublicKey) *table {
	key, ok := keyOf(pub)
	if !ok {
		return nil
	}
	mu.Lock()
	k, ok := keys[key]
	if !ok {
		if len(keys) >= 4*maxTables {
			mu.Unlock()
			return nil
		}
		k = &keyState{}
		keys[key] = k
	}
	mu.Unlock()
	if t := k.table.Load(); t != nil {
		return t
	}
	// The Threshold-th caller builds the table on a goroutine of its own;
	// until it is there, every caller goes on with crypto/ecdsa.
	if k.uses.Add(1) == Threshold {
		go k.build(key)
	}
	return nil
}

func (k *keyState) build(key [65]byte) {
	mu.Lock()
	if tables >= maxTables {
		mu.Unlock()
		return
	}
	tables++
	mu.Unlock()
	q, err := nistec.NewP256Point().SetBytes(key[:])
	if err != nil { // not reached: key came from a valid ecdsa.PublicKey
		mu.Lock()
		tables--
		mu.Unlock()
		return
	}
	k.table.Store(newTable(q))
}

func newTable(q *nistec.P256Point) *table {
	t := new(table)
	base := nistec.NewP256Point().Set(q)
	for i := range t {
		t[i][0].Set(base)
		for j := 1; j < 255; j++ {
			t[i][j].Add(&t[i][j-1], base)
		}
		base.Add(&t[i][254], base) // 256·base
	}
	return t
}

// mult returns s·Q for the 32-byte big-endian scalar s.
func (t *table) mult(s *[32]byte) *nistec.P256Point {
	r := nistec.NewP256Point()
	for i := range 32 {
		if d := s[31-i]; d != 0 {
			r.Add(r, &t[i][d-1])
		}
	}
	return r
}

func (t *table) verifyASN1(hash, sig []byte) bool {
	r, s, ok := parseSignature(sig)
	if !ok {
		return false
	}
	return t.verify(hash, r, s)
}

// verify checks that x(u1·G + u2·Q) ≡ r (mod n), with w = s⁻¹, u1 = e·w
// and u2 = r·w, after 0 < r, s < n.
func (t *table) verify(hash []byte, r, s *big.Int) bool {
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(nMin1) > 0 || s.Cmp(nMin1) > 0 {
		return false
	}
	e := hashToInt(hash)
	w := new(big.Int).ModInverse(s, n)
	if w == nil {
		return false
	}
	var u1, u2 [32]byte
	new(big.Int).Mod(new(big.Int).Mul(e, w), n).FillBytes(u1[:])
	new(big.Int).Mod(new(big.Int).Mul(r, w), n).FillBytes(u2[:])
	p, err := nistec.NewP256Point().ScalarBaseMult(u1[:])
	if err != nil {
		return false
	}
	p.Add(p, t.mult(&u2))
	x, err := p.BytesX() // an error for the point at infinity
	if err != nil {
		return false
	}
	xn := new(big.Int).SetBytes(x)
	if xn.Cmp(n) >= 0 {
		xn.Sub(xn, n)
	}
	return xn.Cmp(r) == 0
}

// hashToInt is the leftmost 256 bits of hash as an integer (FIPS 186-5
// §6.4.2 step 2); its reduction mod n comes with the products.
func hashToInt(hash []byte) *big.Int {
	if len(hash) > 32 {
		hash = hash[:32]
	}
	return new(big.Int).SetBytes(hash)
}

// parseSignature decodes a DER ECDSA-Sig-Value as crypto/ecdsa does.
func parseSignature(sig []byte) (r, s *big.Int, ok bool) {
	var inner cryptobyte.String
	input := cryptobyte.String(sig)
	r, s = new(big.Int), new(big.Int)
	if !input.ReadASN1(&inner, asn1.SEQUENCE) || !input.Empty() ||
		!inner.ReadASN1Integer(r) || !inner.ReadASN1Integer(s) || !inner.Empty() {
		return nil, nil, false
	}
	return r, s, true
}
