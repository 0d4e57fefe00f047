package verify_test

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"flag"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/verify"
)

var update = flag.Bool("update", false, "rewrite the negative golden vectors in testdata/golden/negative")

const goldenDir = "../testdata/golden"

// TestGoldenVectors checks every vector named in testdata/golden/vectors.txt
// (the positive ones, the v1 high-S ones and the negative ones) against the
// verdict and finding the manifest expects, trusting only the golden CA.
// The manifest is written by hand: what a vector must give is stated
// there, not derived from what the code does. Every file of negative/ is in
// the manifest, and the other way round.
func TestGoldenVectors(t *testing.T) {
	if *update {
		writeNegativeVectors(t)
	}
	vectors := readManifest(t)
	trust := verify.NewTrust([]*x509.Certificate{goldenCert(t, "ca.pem")})
	trust.TSAAnchors = []*x509.Certificate{goldenCert(t, "tsa-ca.pem")}
	for _, v := range vectors {
		t.Run(v.file, func(t *testing.T) {
			res, err := verify.File(filepath.Join(goldenDir, filepath.FromSlash(v.file)), trust)
			if err != nil {
				t.Fatal(err)
			}
			var codes []string
			for _, f := range res.Findings {
				codes = append(codes, f.Code)
			}
			if string(res.Verdict) != v.verdict {
				t.Errorf("verdict %s, the manifest says %s (findings %v)", res.Verdict, v.verdict, codes)
			}
			switch {
			case v.code == "-" && len(codes) > 0:
				t.Errorf("findings %v, the manifest says none", codes)
			case v.code != "-" && !slices.Contains(codes, v.code):
				t.Errorf("no %s among the findings %v", v.code, codes)
			}
		})
	}
	listed := map[string]bool{}
	for _, v := range vectors {
		listed[v.file] = true
	}
	files, _ := filepath.Glob(filepath.Join(goldenDir, "negative", "*"))
	if len(files) < len(negativeVectors) {
		t.Fatalf("%d files in negative/, %d vectors made by writeNegativeVectors (run go test ./verify -run GoldenVectors -update)", len(files), len(negativeVectors))
	}
	for _, f := range files {
		if name := "negative/" + filepath.Base(f); !listed[name] {
			t.Errorf("%s is not in vectors.txt", name)
		}
	}
}

type vector struct{ file, verdict, code string }

// readManifest parses vectors.txt: "FILE VERDICT CODE" per line (CODE "-"
// for no finding at all), "#" comments.
func readManifest(t *testing.T) []vector {
	f, err := os.Open(filepath.Join(goldenDir, "vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			t.Fatalf("vectors.txt:%d: want FILE VERDICT CODE, got %q", n, sc.Text())
		}
		if _, err := os.Stat(filepath.Join(goldenDir, filepath.FromSlash(fields[0]))); err != nil {
			t.Fatalf("vectors.txt:%d: %v", n, err)
		}
		vs = append(vs, vector{fields[0], fields[1], fields[2]})
	}
	if len(vs) == 0 {
		t.Fatal("vectors.txt lists no vector")
	}
	return vs
}

// negativeVectors make each negative vector from the golden inputs. Each
// changes one thing, so that the finding the manifest names is the one
// the change must cause. Everything is deterministic: -update rewrites the
// same bytes.
var negativeVectors = map[string]func(g *golden) []byte{
	// The original, never sealed.
	"unsealed-event.json": func(g *golden) []byte { return g.read("event.json") },
	// One character of the content changed, seal untouched.
	"content-edited-event.json": func(g *golden) []byte {
		return g.replaceOnce(g.read("sealed-es256-event.json"), `"Unit 8"`, `"Unit 9"`)
	},
	// One indentation space removed from the content.
	"content-shortened-event.json": func(g *golden) []byte {
		return g.replaceOnce(g.read("sealed-es256-event.json"), "\n  \"alias\"", "\n \"alias\"")
	},
	// One bit of audio flipped.
	"audio-bit-flipped-tone.wav": func(g *golden) []byte {
		b := g.read("sealed-es256-tone.wav")
		b[44+101] ^= 0x01 // in the data chunk's samples (after the 44-byte header)
		return b
	},
	// signedAt moved by a second: the signature no longer covers the envelope.
	"signedat-edited-event.json": func(g *golden) []byte {
		return g.replaceOnce(g.read("sealed-es256-event.json"), `"2026-11-27T10:00:00.123Z"`, `"2026-11-27T10:00:01.123Z"`)
	},
	// The signature's base64 with non-zero unused bits in its last
	// character: the same DER to a lenient decoder, not the one byte form.
	"sig-base64-noncanonical-event.json": func(g *golden) []byte {
		b := g.read("sealed-es256-event.json")
		e := g.envelopeOf(b)
		sig := []byte(e.Sig)
		i := bytes.IndexByte(sig, '=') - 1
		if i < 0 {
			g.t.Fatal("the golden signature has no padding")
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		sig[i] = alphabet[strings.IndexByte(alphabet, sig[i])|1]
		return g.replaceOnce(b, `"sig":"`+e.Sig+`"`, `"sig":"`+string(sig)+`"`)
	},
	// A space after a colon in the envelope: valid JSON, signed input
	// unchanged, not the bytes the sealer writes.
	"envelope-spaced-event.json": func(g *golden) []byte {
		return g.replaceOnce(g.read("sealed-es256-event.json"), `"alg":"ES256"`, `"alg": "ES256"`)
	},
	// A second seal member after the first.
	"two-seal-members-event.json": func(g *golden) []byte {
		b := g.read("sealed-es256-event.json")
		env := g.envelopeOf(b).Marshal()
		end := bytes.LastIndexByte(b, '}') // the object's; whitespace may follow
		return slices.Concat(b[:end], []byte(`,"seal":`), env, b[end:])
	},
	// The seal member is a string, not an envelope.
	"seal-not-object-event.json": func(g *golden) []byte {
		b := g.read("sealed-es256-event.json")
		i := bytes.LastIndex(b, []byte(`,"seal":`))
		return slices.Concat(b[:i], []byte(`,"seal":"sealed"`), b[bytes.LastIndexByte(b, '}'):])
	},
	// The RIFF size field of the sealed file off by two.
	"riff-size-edited-tone.wav": func(g *golden) []byte {
		b := g.read("sealed-es256-tone.wav")
		binary.LittleEndian.PutUint32(b[4:], binary.LittleEndian.Uint32(b[4:])+2)
		return b
	},
	// A chunk after the seal chunk (RIFF size fixed up).
	"chunk-after-seal-tone.wav": func(g *golden) []byte {
		return g.appendChunk(g.read("sealed-es256-tone.wav"), []byte("junk\x04\x00\x00\x00abcd"))
	},
	// A second copy of the seal chunk after the first (RIFF size fixed up).
	"two-seal-chunks-tone.wav": func(g *golden) []byte {
		b := g.read("sealed-es256-tone.wav")
		e := g.envelopeOf(b)
		return g.appendChunk(b, b[e.Size+e.Size&1:]) // the seal chunk follows the padded original
	},
	// Re-signed by the signer's key with a size one larger: the signature
	// is good, the content is not what it vouches for.
	"size-resigned-event.json": func(g *golden) []byte {
		b := g.read("sealed-es256-event.json")
		e := g.envelopeOf(b)
		e.Size++
		return g.resplice(b, g.resign(e, "signer-es256.key"))
	},
	// alg ES384 beside a P-256 certificate, signed with that key over SHA-384.
	"alg-mismatch-event.json": func(g *golden) []byte {
		b := g.read("sealed-es256-event.json")
		e := g.envelopeOf(b)
		e.Alg = "ES384"
		return g.resplice(b, g.resign(e, "signer-es256.key"))
	},
	// Sealed by the CA's own key and certificate: a CA is not a recorder.
	"ca-signer-event.json": func(g *golden) []byte {
		return g.seal("event.json", g.cert("ca.pem"), g.key("ca.key"))
	},
	// Sealed by a certificate the golden CA issued, expired a year before
	// signedAt.
	"expired-signer-event.json": func(g *golden) []byte {
		ca := g.cert("ca.pem")
		key := g.key("signer-es256.key")
		c := g.issue(&x509.Certificate{
			SerialNumber: big.NewInt(0x5ea1e0e1),
			Subject:      pkix.Name{Organization: []string{"tlseal tests"}, CommonName: "tlseal golden vector expired signer"},
			NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2025, 11, 27, 0, 0, 0, 0, time.UTC),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
		}, ca, &key.PublicKey, g.key("ca.key"))
		return g.seal("event.json", c, key)
	},
	// Version 2: the token of another seal (the v2 WAV's) put in the v2
	// event's envelope. The signature still verifies (tst is not signed).
	"v2-token-of-other-seal-event.json": func(g *golden) []byte {
		b := g.read("v2/sealed-es256-event.json")
		e := g.envelopeOf(b)
		e.TST = g.envelopeOf(g.read("v2/sealed-es384-tone.wav")).TST
		return g.resplice(b, e.Marshal())
	},
	// Version 2: one byte of the token (inside the TSA's signature) changed.
	"v2-token-edited-event.json": func(g *golden) []byte {
		b := g.read("v2/sealed-es256-event.json")
		e := g.envelopeOf(b)
		tok := e.Token()
		tok[len(tok)-3] ^= 0x01
		e.TST = base64.StdEncoding.EncodeToString(tok)
		return g.resplice(b, e.Marshal())
	},
	// Version 2 with the high-S twin of its signature: valid ECDSA, but a
	// second byte form, refused from version 2 on.
	"v2-high-s-event.json": func(g *golden) []byte {
		b := g.read("v2/sealed-es256-event.json")
		e := g.envelopeOf(b)
		der, _ := e.SignatureDER()
		var sig struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &sig); err != nil {
			g.t.Fatal(err)
		}
		sig.S.Sub(g.key("signer-es256.key").Curve.Params().N, sig.S)
		twin, err := asn1.Marshal(sig)
		if err != nil {
			g.t.Fatal(err)
		}
		e.Sig = base64.StdEncoding.EncodeToString(twin)
		return g.resplice(b, e.Marshal())
	},
	// Sealed by a self-signed certificate no trust anchor vouches for.
	"untrusted-signer-event.json": func(g *golden) []byte {
		key := g.key("signer-es256.key")
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(0x0dd5e1f),
			Subject:      pkix.Name{Organization: []string{"somebody else"}, CommonName: "a stranger's recorder"},
			NotBefore:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2046, 1, 1, 0, 0, 0, 0, time.UTC),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
		}
		return g.seal("event.json", g.issue(tmpl, tmpl, &key.PublicKey, key), key)
	},
}

// golden gives the vector makers the golden files and keys.
type golden struct{ t *testing.T }

var goldenTime = time.Date(2026, 11, 27, 10, 0, 0, 123000000, time.UTC)

func writeNegativeVectors(t *testing.T) {
	g := &golden{t}
	dir := filepath.Join(goldenDir, "negative")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range old {
		os.Remove(f)
	}
	for name, make := range negativeVectors {
		if err := os.WriteFile(filepath.Join(dir, name), make(g), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (g *golden) read(name string) []byte {
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		g.t.Fatal(err)
	}
	return b
}

func (g *golden) replaceOnce(b []byte, old, new string) []byte {
	if bytes.Count(b, []byte(old)) != 1 {
		g.t.Fatalf("%q does not occur exactly once", old)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

func (g *golden) open(b []byte) *timeline.Opened {
	o, err := timeline.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil || o.Envelope == nil {
		g.t.Fatalf("a golden file does not open: %v", err)
	}
	return o
}

func (g *golden) envelopeOf(b []byte) *timeline.Envelope { return g.open(b).Envelope }

// resplice puts env in place of a sealed JSON file's envelope.
func (g *golden) resplice(b, env []byte) []byte {
	i := bytes.LastIndex(b, []byte(`,"seal":`))
	end := bytes.LastIndexByte(b, '}')
	return slices.Concat(b[:i], []byte(`,"seal":`), env, b[end:])
}

// appendChunk appends a RIFF chunk and fixes the RIFF size field.
func (g *golden) appendChunk(b, chunk []byte) []byte {
	b = append(b, chunk...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func (g *golden) cert(name string) *x509.Certificate { return goldenCert(g.t, name) }

func (g *golden) key(name string) *ecdsa.PrivateKey {
	block, _ := pem.Decode(g.read(name))
	if block == nil {
		g.t.Fatalf("%s: no PEM", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		g.t.Fatal(err)
	}
	return k.(*ecdsa.PrivateKey)
}

// deterministic signs with RFC 6979 (a nil random source), so that
// certificates made by issue are the same bytes every time.
type deterministic struct{ *ecdsa.PrivateKey }

func (d deterministic) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return d.PrivateKey.Sign(nil, digest, opts)
}

func (g *golden) issue(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, by *ecdsa.PrivateKey) *x509.Certificate {
	der, err := x509.CreateCertificate(nil, tmpl, parent, pub, deterministic{by})
	if err != nil {
		g.t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		g.t.Fatal(err)
	}
	return c
}

func (g *golden) seal(input string, cert *x509.Certificate, key *ecdsa.PrivateKey) []byte {
	s, err := timeline.NewSigner(cert, nil, key)
	if err != nil {
		g.t.Fatal(err)
	}
	s.Deterministic = true
	src := g.read(input)
	var out memfile.File
	if _, err := timeline.Seal(&out, bytes.NewReader(src), int64(len(src)), timeline.SealOptions{Name: input, Signer: s, Time: goldenTime}); err != nil {
		g.t.Fatal(err)
	}
	return out.Bytes()
}

// resign signs an edited envelope the way the sealer does (the alg's hash,
// RFC 6979, low S, base64 of the DER) and returns its bytes.
func (g *golden) resign(e *timeline.Envelope, keyFile string) []byte {
	key := g.key(keyFile)
	h, err := e.Alg.Hash()
	if err != nil {
		g.t.Fatal(err)
	}
	hh := h.New()
	hh.Write(e.SigningInput())
	der, err := key.Sign(nil, hh.Sum(nil), h)
	if err != nil {
		g.t.Fatal(err)
	}
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		g.t.Fatal(err)
	}
	n := key.Curve.Params().N
	if sig.S.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		sig.S.Sub(n, sig.S)
	}
	if der, err = asn1.Marshal(sig); err != nil {
		g.t.Fatal(err)
	}
	e.Sig = base64.StdEncoding.EncodeToString(der)
	return e.Marshal()
}

func goldenCert(t *testing.T, name string) *x509.Certificate {
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", name)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
