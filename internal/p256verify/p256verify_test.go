package p256verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
	"testing"
	"time"

	"filippo.io/nistec"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

func newKey(t testing.TB) (*ecdsa.PrivateKey, *table) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	q, err := nistec.NewP256Point().SetBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k, newTable(q)
}

func encodeSig(r, s *big.Int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.BytesOrPanic()
}

func decodeSig(t *testing.T, sig []byte) (r, s *big.Int) {
	t.Helper()
	r, s, ok := parseSignature(sig)
	if !ok {
		t.Fatalf("parseSignature(%x) failed", sig)
	}
	return r, s
}

// The table's multiplication is the library's ScalarMult.
func TestTableMult(t *testing.T) {
	k, tab := newKey(t)
	pub, _ := k.PublicKey.Bytes()
	q, _ := nistec.NewP256Point().SetBytes(pub)
	scalars := [][32]byte{{}, {31: 1}, {31: 0xff}, {0: 0x80}}
	var ff [32]byte
	for i := range ff {
		ff[i] = 0xff
	}
	var nm1 [32]byte
	nMin1.FillBytes(nm1[:])
	scalars = append(scalars, ff, nm1)
	for range 50 {
		var s [32]byte
		rand.Read(s[:])
		scalars = append(scalars, s)
	}
	for _, s := range scalars {
		want, err := nistec.NewP256Point().ScalarMult(q, s[:])
		if err != nil {
			t.Fatal(err)
		}
		if got := tab.mult(&s); !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("mult(%x) is not ScalarMult's", s)
		}
	}
}

// Every answer is crypto/ecdsa's: valid signatures (low-S and high-S, short
// and long hashes) verify, and every altered one, out-of-range value, and
// signature whose sum is the point at infinity does not.
func TestVerifyMatchesStdlib(t *testing.T) {
	k, tab := newKey(t)
	pub := &k.PublicKey
	type tc struct {
		name string
		hash []byte
		sig  []byte
		want bool
	}
	var cases []tc
	for i := range 20 {
		msg := []byte{byte(i), 'm'}
		h := sha256.Sum256(msg)
		sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
		if err != nil {
			t.Fatal(err)
		}
		r, s := decodeSig(t, sig)
		twin := new(big.Int).Sub(n, s)
		flipped := bytes.Clone(h[:])
		flipped[i%32] ^= 1 << (i % 8)
		cases = append(cases,
			tc{"valid", h[:], sig, true},
			tc{"high-S twin", h[:], encodeSig(r, twin), true},
			tc{"other hash", flipped, sig, false},
			tc{"r+1", h[:], encodeSig(new(big.Int).Add(r, big.NewInt(1)), s), false},
			tc{"s+1", h[:], encodeSig(r, new(big.Int).Add(s, big.NewInt(1))), false},
			tc{"r+n", h[:], encodeSig(new(big.Int).Add(r, n), s), false},
			tc{"s+n", h[:], encodeSig(r, new(big.Int).Add(s, n)), false},
			tc{"-r", h[:], encodeSig(new(big.Int).Neg(r), s), false},
			tc{"trailing byte", h[:], append(bytes.Clone(sig), 0), false},
			tc{"truncated", h[:], sig[:len(sig)-1], false},
		)
	}
	for _, rs := range [][2]*big.Int{{big.NewInt(0), big.NewInt(1)}, {big.NewInt(1), big.NewInt(0)}, {n, big.NewInt(1)}, {big.NewInt(1), n}, {nMin1, nMin1}} {
		h := sha256.Sum256([]byte("edge"))
		cases = append(cases, tc{"range", h[:], encodeSig(rs[0], rs[1]), false})
	}
	// Hashes shorter and longer than the order: the leftmost 256 bits count.
	for _, h := range [][]byte{[]byte("short hash"), func() []byte { s := sha512.Sum512([]byte("long")); return s[:] }()} {
		sig, err := ecdsa.SignASN1(rand.Reader, k, h)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, tc{"hash of other length", h, sig, true})
	}
	// u1·G + u2·Q = ∞: with Q = d·G, e ≡ −r·d (mod n) for any r and s.
	// The sum is computed and must give no answer but "invalid" (no x to
	// compare); a verifier that took ∞'s encoding for x = 0 would still
	// refuse (r ≥ 1), so this guards the error path, not a false accept.
	{
		r, s := big.NewInt(12345), big.NewInt(67890)
		e := new(big.Int).Mod(new(big.Int).Neg(new(big.Int).Mul(r, k.D)), n)
		var h [32]byte
		e.FillBytes(h[:])
		cases = append(cases, tc{"point at infinity", h[:], encodeSig(r, s), false})
	}
	for _, c := range cases {
		if std := ecdsa.VerifyASN1(pub, c.hash, c.sig); std != c.want {
			t.Fatalf("%s: crypto/ecdsa says %v, the case expects %v", c.name, std, c.want)
		}
		if got := tab.verifyASN1(c.hash, c.sig); got != c.want {
			t.Errorf("%s: the table verifier says %v, crypto/ecdsa %v", c.name, got, c.want)
		}
	}
}

// VerifyASN1 builds a key's table after Threshold uses and then answers
// with it, as crypto/ecdsa does; other curves go to crypto/ecdsa.
func TestVerifyASN1BuildsTable(t *testing.T) {
	if fips140.Enabled() {
		t.Skip("FIPS 140-3 mode: crypto/ecdsa verifies every signature, no table is built")
	}
	k, _ := newKey(t)
	pub := &k.PublicKey
	h := sha256.Sum256([]byte("many"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
	bad := bytes.Clone(h[:])
	bad[0] ^= 1
	for range Threshold {
		if !VerifyASN1(pub, h[:], sig) || VerifyASN1(pub, bad, sig) {
			t.Fatal("wrong answer before the table")
		}
	}
	b, _ := pub.Bytes()
	mu.Lock()
	ks := keys[[65]byte(b)]
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for ks.table.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no table after Threshold uses")
		}
		time.Sleep(time.Millisecond)
	}
	if tableFor(pub) == nil {
		t.Fatal("tableFor does not give the built table")
	}
	if !VerifyASN1(pub, h[:], sig) || VerifyASN1(pub, bad, sig) {
		t.Fatal("wrong answer with the table")
	}

	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	sig384, _ := ecdsa.SignASN1(rand.Reader, k384, h[:])
	if !VerifyASN1(&k384.PublicKey, h[:], sig384) || VerifyASN1(&k384.PublicKey, bad, sig384) {
		t.Fatal("wrong answer for P-384")
	}
}

func FuzzVerify(f *testing.F) {
	k, tab := newKey(f)
	h := sha256.Sum256([]byte("fuzz"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
	f.Add(h[:], sig)
	f.Add(h[:8], sig)
	f.Add([]byte{}, []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, hash, sig []byte) {
		if got, want := tab.verifyASN1(hash, sig), ecdsa.VerifyASN1(&k.PublicKey, hash, sig); got != want {
			t.Fatalf("table verifier %v, crypto/ecdsa %v for hash %x sig %x", got, want, hash, sig)
		}
	})
}

func BenchmarkP256Verify(b *testing.B) {
	k, tab := newKey(b)
	h := sha256.Sum256([]byte("bench"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
	b.Run("crypto-ecdsa", func(b *testing.B) {
		for b.Loop() {
			ecdsa.VerifyASN1(&k.PublicKey, h[:], sig)
		}
	})
	b.Run("table", func(b *testing.B) {
		for b.Loop() {
			tab.verifyASN1(h[:], sig)
		}
	})
	b.Run("build-table", func(b *testing.B) {
		pub, _ := k.PublicKey.Bytes()
		q, _ := nistec.NewP256Point().SetBytes(pub)
		for b.Loop() {
			newTable(q)
		}
	})
}
