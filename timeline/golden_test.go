package timeline_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/tsa"
)

var update = flag.Bool("update", false, "rewrite golden files (and create missing golden keys)")

const goldenDir = "../testdata/golden"

// goldenTime is the signedAt of every golden vector.
var goldenTime = time.Date(2026, 11, 27, 10, 0, 0, 123000000, time.UTC)

var goldenCurves = []struct {
	name  string
	curve elliptic.Curve
}{{"es256", elliptic.P256()}, {"es384", elliptic.P384()}, {"es512", elliptic.P521()}}

// goldenInputs are the originals of the golden vectors; they are written to
// testdata/golden too, so the openssl recipe can be run on them by hand.
func goldenInputs() map[string][]byte {
	return map[string][]byte{
		"event.json": samples.EventJSON(1, time.Date(2026, 11, 27, 9, 59, 0, 0, time.UTC), "tone.wav"),
		"tone.wav":   samples.WAV(8000, 0.05, 440),
	}
}

// goldenSigner loads (or, with -update, creates once) the fixed key and
// certificate of a curve. The keys are test keys, published on purpose.
func goldenSigner(t *testing.T, name string, curve elliptic.Curve) *timeline.Signer {
	t.Helper()
	certPath := filepath.Join(goldenDir, "signer-"+name+".pem")
	keyPath := filepath.Join(goldenDir, "signer-"+name+".key")
	if _, err := os.Stat(certPath); errors.Is(err, fs.ErrNotExist) && *update {
		ca := loadOrMakeGoldenCA(t)
		leaf := testpki.Leaf(t, ca, testpki.Options{Curve: curve, CN: "tlseal golden vector signer " + name,
			NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2046, 1, 1, 0, 0, 0, 0, time.UTC)})
		leaf.Write(t, goldenDir, "signer-"+name)
	}
	cert := mustCert(t, certPath)
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatalf("%v (run go test ./timeline -run Golden -update once)", err)
	}
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	s, err := timeline.NewSigner(cert, nil, key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	s.Deterministic = true
	return s
}

func loadOrMakeGoldenCA(t *testing.T) *testpki.Cert {
	certPath := filepath.Join(goldenDir, "ca.pem")
	keyPath := filepath.Join(goldenDir, "ca.key")
	if _, err := os.Stat(certPath); err == nil {
		keyPEM, err := os.ReadFile(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(keyPEM)
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return &testpki.Cert{Cert: mustCert(t, certPath), Key: key.(*ecdsa.PrivateKey)}
	}
	ca := testpki.CA(t, testpki.Options{CN: "tlseal golden vector CA",
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2046, 1, 1, 0, 0, 0, 0, time.UTC)})
	ca.Write(t, goldenDir, "ca")
	return ca
}

func mustCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./timeline -run Golden -update once)", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGoldenVectors seals the golden inputs with fixed keys, a fixed time
// and deterministic (RFC 6979) signatures, and compares the sealed bytes
// with testdata/golden. A change here is a change of the format: the
// golden files are the contract's examples (docs/format.md).
func TestGoldenVectors(t *testing.T) {
	for name, orig := range goldenInputs() {
		origPath := filepath.Join(goldenDir, name)
		if *update {
			if err := os.WriteFile(origPath, orig, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if onDisk, err := os.ReadFile(origPath); err != nil || !bytes.Equal(onDisk, orig) {
			t.Fatalf("%s differs from the generated input (run with -update)", origPath)
		}
		for _, c := range goldenCurves {
			signer := goldenSigner(t, c.name, c.curve)
			var out memfile.File
			if _, err := timeline.Seal(&out, bytes.NewReader(orig), int64(len(orig)), timeline.SealOptions{Name: name, Signer: signer, Time: goldenTime}); err != nil {
				t.Fatal(err)
			}
			goldenPath := filepath.Join(goldenDir, "sealed-"+c.name+"-"+name)
			if *update {
				if err := os.WriteFile(goldenPath, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("%s: sealing gives different bytes than the golden file", goldenPath)
			}
			// The golden file opens cleanly and its signature verifies.
			o, err := timeline.Open(bytes.NewReader(want), int64(len(want)))
			if err != nil {
				t.Fatal(err)
			}
			if len(o.Problems) != 0 || !o.HasOriginal {
				t.Errorf("%s: problems %+v", goldenPath, o.Problems)
			}
			cert, err := timeline.VerifySignature(o.Envelope)
			if err != nil {
				t.Fatalf("%s: %v", goldenPath, err)
			}
			if timeline.HighS(o.Envelope, cert.PublicKey.(*ecdsa.PublicKey)) {
				t.Errorf("%s: the sealer wrote a high-S signature", goldenPath)
			}
		}
	}
}

// testdata/golden/v1-highs holds golden vectors sealed before tlseal
// signed low-S only: valid version-1 seals with a high-S signature, which
// must keep opening cleanly and verifying (the verifier adds the warning
// signature.highS). Their low-S twins are the sealed-* files beside them.
func TestGoldenHighSVectors(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(goldenDir, "v1-highs", "sealed-*"))
	if len(files) == 0 {
		t.Fatal("no v1-highs vectors")
	}
	for _, f := range files {
		data := mustRead(t, f)
		o, err := timeline.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Problems) != 0 || !o.HasOriginal {
			t.Errorf("%s: problems %+v", f, o.Problems)
			continue
		}
		cert, err := timeline.VerifySignature(o.Envelope)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !timeline.HighS(o.Envelope, cert.PublicKey.(*ecdsa.PublicKey)) {
			t.Errorf("%s: not high-S", f)
		}
		// Its low-S twin is the current golden file of the same name, with
		// the same envelope but for sig.
		twin := mustRead(t, filepath.Join(goldenDir, filepath.Base(f)))
		ot, err := timeline.Open(bytes.NewReader(twin), int64(len(twin)))
		if err != nil || ot.Envelope == nil {
			t.Fatalf("%s twin: %v", f, err)
		}
		if !bytes.Equal(ot.Envelope.SigningInput(), o.Envelope.SigningInput()) || ot.Envelope.Sig == o.Envelope.Sig {
			t.Errorf("%s: the current golden file is not its low-S twin", f)
		}
	}
}

// docs/format.md lists the golden files' digests; they must be current.
func TestGoldenVectorsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/format.md")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(goldenDir, "sealed-*"))
	highs, _ := filepath.Glob(filepath.Join(goldenDir, "v1-highs", "sealed-*"))
	files = append(append(files, highs...), filepath.Join(goldenDir, "event.json"), filepath.Join(goldenDir, "tone.wav"))
	for _, f := range files {
		sum := sha256.Sum256(mustRead(t, f))
		if !bytes.Contains(doc, []byte(hex.EncodeToString(sum[:]))) {
			t.Errorf("docs/format.md does not list the SHA-256 of %s", filepath.Base(f))
		}
	}
}

// goldenTSA is the fixed test TSA of package tsa (tsa/testdata, made once
// by its gen.sh; the key is a published test key) as an Issuer, so that
// the version-2 vectors are reproducible byte for byte.
func goldenTSA(t *testing.T) *tsa.Issuer {
	t.Helper()
	dir := filepath.Join("..", "tsa", "testdata")
	block, _ := pem.Decode(mustRead(t, filepath.Join(dir, "tsa-key.THROWAWAY-TEST-KEY.pem")))
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &tsa.Issuer{Cert: mustCert(t, filepath.Join(dir, "tsa.pem")), Key: key.(*ecdsa.PrivateKey),
		Chain: []*x509.Certificate{mustCert(t, filepath.Join(dir, "tsa-ca.pem"))}, Accuracy: time.Second}
}

// goldenTokenTime is the genTime of the version-2 vectors' tokens: one
// second after their signedAt.
var goldenTokenTime = time.Date(2026, 11, 27, 10, 0, 1, 0, time.UTC)

// TestGoldenVectorsV2: version-2 seals (with an RFC 3161 token of the fixed
// test TSA over the signature), in testdata/golden/v2, with the TSA's CA
// beside them as tsa-ca.pem.
func TestGoldenVectorsV2(t *testing.T) {
	is := goldenTSA(t)
	caPath := filepath.Join(goldenDir, "tsa-ca.pem")
	if *update {
		if err := os.WriteFile(caPath, mustRead(t, filepath.Join("..", "tsa", "testdata", "tsa-ca.pem")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(mustRead(t, caPath), mustRead(t, filepath.Join("..", "tsa", "testdata", "tsa-ca.pem"))) {
		t.Fatalf("%s is not the test TSA's CA (run with -update)", caPath)
	}
	inputs := goldenInputs()
	for _, v := range []struct{ curve, input string }{{"es256", "event.json"}, {"es384", "tone.wav"}} {
		var c = goldenCurves[0]
		for _, g := range goldenCurves {
			if g.name == v.curve {
				c = g
			}
		}
		signer := goldenSigner(t, c.name, c.curve)
		orig := inputs[v.input]
		var out memfile.File
		var stamped []byte
		_, err := timeline.Seal(&out, bytes.NewReader(orig), int64(len(orig)), timeline.SealOptions{Name: v.input, Signer: signer, Time: goldenTime,
			Timestamp: func(sig []byte) ([]byte, error) {
				stamped = bytes.Clone(sig)
				sum := sha256.Sum256(sig)
				return is.Issue(sum[:], goldenTokenTime, big.NewInt(1), nil)
			}})
		if err != nil {
			t.Fatal(err)
		}
		goldenPath := filepath.Join(goldenDir, "v2", "sealed-"+c.name+"-"+v.input)
		if *update {
			os.MkdirAll(filepath.Dir(goldenPath), 0o755)
			if err := os.WriteFile(goldenPath, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want := mustRead(t, goldenPath)
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s: sealing gives different bytes than the golden file", goldenPath)
		}
		o, err := timeline.Open(bytes.NewReader(want), int64(len(want)))
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Problems) != 0 || o.Envelope.V != timeline.VersionTimestamped || o.Envelope.TST == "" {
			t.Fatalf("%s: problems %+v, v %d", goldenPath, o.Problems, o.Envelope.V)
		}
		sig, err := o.Envelope.SignatureDER()
		if err != nil || !bytes.Equal(sig, stamped) {
			t.Fatalf("%s: the token is not over the seal's DER signature (%v)", goldenPath, err)
		}
		tok, err := tsa.Parse(o.Envelope.Token())
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(mustCert(t, caPath))
		if err := tok.Verify(tsa.VerifyOptions{Data: sig, Roots: roots}); err != nil {
			t.Errorf("%s: %v", goldenPath, err)
		}
		// The contract's independent check, with openssl alone.
		if bin, err := exec.LookPath("openssl"); err == nil {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "token.der"), o.Envelope.Token(), 0o644)
			os.WriteFile(filepath.Join(dir, "sig.der"), sig, 0o644)
			cmd := exec.Command(bin, "ts", "-verify", "-token_in", "-in", filepath.Join(dir, "token.der"), "-data", filepath.Join(dir, "sig.der"), "-CAfile", caPath)
			if out, err := cmd.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("Verification: OK")) {
				t.Errorf("%s: openssl ts -verify: %v\n%s", goldenPath, err, out)
			}
		}
	}
}
