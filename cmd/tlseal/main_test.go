package main

import (
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/softhsm"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/internal/tests3"
	"github.com/tlseal/tlseal/internal/testtsa"
	"github.com/tlseal/tlseal/tokenkey"
)

// TestMain lets the test binary act as the tlseal command inside testscript
// scripts (testdata/script/*.txtar).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"tlseal": func() { os.Exit(run(os.Args[1:])) },
	})
}

func TestScripts(t *testing.T) {
	// A real TSA (openssl ts -reply behind loopback HTTP) for the scripts
	// that timestamp, one for the whole run; a TSA that answers garbage;
	// an address where nothing listens.
	var tsaURL, tsaCA, garbageURL string
	if _, err := exec.LookPath("openssl"); err == nil {
		good := testtsa.Start(t, testtsa.Options{})
		tsaURL, tsaCA = good.URL, string(good.CACertPEM)
		garbageURL = testtsa.Start(t, testtsa.Options{Fault: testtsa.FaultGarbage}).URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String() + "/tsr"
	ln.Close()
	s3env := scriptS3Env(t, "http://"+ln.Addr().String())
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Condition: func(cond string) (bool, error) {
			if cond == "s3" {
				return tests3.Available(), nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":      cmdStatus,
			"testpki":     cmdTestPKI,
			"mkwav":       cmdMkWAV,
			"mkevent":     cmdMkEvent,
			"flip":        cmdFlip,
			"waitfor":     cmdWaitFor,
			"cut":         cmdCut,
			"tokenkey":    cmdTokenKey,
			"tokenuri":    cmdTokenURI,
			"buildsigner": cmdBuildSigner,
			"mkcrl":       cmdMkCRL,
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("CI", os.Getenv("CI"))
			env.Setenv("TSA_URL", tsaURL)
			env.Setenv("TSA_GARBAGE_URL", garbageURL)
			env.Setenv("TSA_DEAD_URL", deadURL)
			if err := s3env(env); err != nil {
				return err
			}
			if tsaCA != "" {
				return os.WriteFile(filepath.Join(env.WorkDir, "tsa-ca.pem"), []byte(tsaCA), 0o644)
			}
			return nil
		},
	})
}

// status N PROG ARGS...: run a program and require exit status N; its
// standard output and error go to status.out for grep.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %v", err)
	}
	prog, err := exec.LookPath(args[1])
	if err != nil {
		// testscript's own commands are on the script's PATH.
		prog = filepath.Join(ts.Getenv("WORK"), "..", args[1])
		if p, err2 := lookPathIn(args[1], ts.Getenv("PATH")); err2 == nil {
			prog = p
		}
	}
	cmd := exec.Command(prog, args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = []string{"PATH=" + ts.Getenv("PATH"), "HOME=" + ts.Getenv("HOME"), "TMPDIR=" + ts.Getenv("TMPDIR"),
		"TLSEAL_CERTSTORE_PASSWORD_HEX=" + ts.Getenv("TLSEAL_CERTSTORE_PASSWORD_HEX"), "SOFTHSM2_CONF=" + ts.Getenv("SOFTHSM2_CONF"),
		"TESTSIGNER_KEY=" + ts.Getenv("TESTSIGNER_KEY"), "TESTSIGNER_MODE=" + ts.Getenv("TESTSIGNER_MODE")}
	for _, k := range s3EnvNames {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	out, err := cmd.CombinedOutput()
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("status: %v", err)
	}
	ts.Check(os.WriteFile(ts.MkAbs("status.out"), out, 0o644))
	ts.Logf("%s", out)
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

func lookPathIn(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

// testpki DIR: a CA (ca.pem), a signer (signer.pem, signer.key), a P-384
// signer, a signer of another CA (other.pem/.key, other-ca.pem) and an
// expired signer (expired.pem/.key).
func cmdTestPKI(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: testpki DIR")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	t := tsTB{ts}
	ca := testpki.CA(t, testpki.Options{})
	ca.Write(t, dir, "ca")
	testpki.Leaf(t, ca, testpki.Options{}).Write(t, dir, "signer")
	testpki.Leaf(t, ca, testpki.Options{Curve: elliptic.P384(), CN: "P-384 signer"}).Write(t, dir, "signer384")
	testpki.Leaf(t, ca, testpki.Options{CN: "expired", NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}).Write(t, dir, "expired")
	other := testpki.CA(t, testpki.Options{CN: "Other CA"})
	other.Write(t, dir, "other-ca")
	testpki.Leaf(t, other, testpki.Options{CN: "other signer"}).Write(t, dir, "other")
}

// mkcrl CA OUT [CERT OFFSET]...: a CRL (DER) of the CA at CA.pem/CA.key
// revoking each CERT (a PEM file) at now + OFFSET (a Go duration), current
// for a day.
func cmdMkCRL(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || len(args)%2 != 0 {
		ts.Fatalf("usage: mkcrl CA OUT [CERT OFFSET]...")
	}
	t := tsTB{ts}
	ca := testpki.Load(t, ts.MkAbs(args[0]+".pem"), ts.MkAbs(args[0]+".key"))
	now := time.Now()
	tmpl := &x509.RevocationList{Number: big.NewInt(now.UnixNano()), ThisUpdate: now.Add(-2 * time.Hour), NextUpdate: now.Add(24 * time.Hour)}
	for i := 2; i < len(args); i += 2 {
		b, err := os.ReadFile(ts.MkAbs(args[i]))
		ts.Check(err)
		block, _ := pem.Decode(b)
		if block == nil {
			ts.Fatalf("mkcrl: %s: no PEM", args[i])
		}
		c, err := x509.ParseCertificate(block.Bytes)
		ts.Check(err)
		d, err := time.ParseDuration(args[i+1])
		ts.Check(err)
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: now.Add(d)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), der, 0o644))
}

// mkwav FILE: a one-second 8 kHz tone.
func cmdMkWAV(ts *testscript.TestScript, neg bool, args []string) {
	writeMade(ts, args[0], samples.WAV(8000, 1, 440))
}

// mkevent FILE: an Engage-style event (a new one each time: the time differs).
func cmdMkEvent(ts *testscript.TestScript, neg bool, args []string) {
	writeMade(ts, args[0], samples.EventJSON(1, time.Now(), "rec.wav"))
}

func writeMade(ts *testscript.TestScript, name string, data []byte) {
	path := ts.MkAbs(name)
	ts.Check(os.MkdirAll(filepath.Dir(path), 0o755))
	ts.Check(os.WriteFile(path, data, 0o644))
}

// flip FILE OFFSET: flip the lowest bit of one byte (negative: from the end).
func cmdFlip(ts *testscript.TestScript, neg bool, args []string) {
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	off, err := strconv.Atoi(args[1])
	ts.Check(err)
	if off < 0 {
		off += len(data)
	}
	data[off] ^= 1
	ts.Check(os.WriteFile(path, data, 0o644))
}

// tsTB adapts a TestScript to the testing.TB that testpki wants.
type tsTB struct{ ts *testscript.TestScript }

func (t tsTB) Helper()                           {}
func (t tsTB) Fatal(args ...any)                 { t.ts.Fatalf("%v", args...) }
func (t tsTB) Fatalf(format string, args ...any) { t.ts.Fatalf(format, args...) }
func (t tsTB) Skipf(format string, args ...any)  { t.ts.Fatalf("skip: "+format, args...) }

// waitfor FILE [SECONDS]: wait until FILE exists (default 20 s).
func cmdWaitFor(ts *testscript.TestScript, neg bool, args []string) {
	limit := 20 * time.Second
	if len(args) > 1 {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		limit = time.Duration(n) * time.Second
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear within %v", args[0], limit)
}

// cut FILE N: keep the first N bytes of FILE (a recording cut short).
func cmdCut(ts *testscript.TestScript, neg bool, args []string) {
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	ts.Check(os.Truncate(ts.MkAbs(args[0]), int64(n)))
}

// tokenkey PKI LABEL ID CURVE [storecert]: generate an EC key (curve:
// prime256v1, secp384r1, secp521r1) inside the process's SoftHSM2 token
// with that label and hex id, issue its certificate from PKI/ca (written to
// PKI/LABEL.pem), optionally store the certificate in the token too, and
// set TOKEN_URI (PIN in a file) and SOFTHSM2_CONF for the script. Scripts
// guard it with [!exec:softhsm2-util] skip.
func cmdTokenKey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 {
		ts.Fatalf("usage: tokenkey PKI LABEL ID CURVE [storecert]")
	}
	t := tsTB{ts}
	dir, label, id, curve := ts.MkAbs(args[0]), args[1], args[2], args[3]
	tk := softhsm.Shared(t)
	tk.GenerateKey(t, label, id, curve)
	uri := tk.URI(t, label)
	k, err := tokenkey.Open(uri)
	ts.Check(err)
	ca := testpki.Load(t, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key"))
	cert := testpki.IssueFor(t, ca, k.Signer.Public(), testpki.Options{CN: "token signer " + label})
	ts.Check(os.WriteFile(filepath.Join(dir, label+".pem"), softhsm.PEM(cert), 0o644))
	if len(args) > 4 && args[4] == "storecert" {
		tk.WriteCertificate(t, label, id, cert)
	}
	ts.Setenv("TOKEN_URI", uri)
	ts.Setenv("SOFTHSM2_CONF", os.Getenv("SOFTHSM2_CONF"))
}

// tokenuri LABEL: set TOKEN_URI to the URI of a (new) key LABEL in the
// process's SoftHSM2 token, and SOFTHSM2_CONF, without making the key.
func cmdTokenURI(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tokenuri LABEL")
	}
	t := tsTB{ts}
	ts.Setenv("TOKEN_URI", softhsm.Shared(t).URI(t, args[0]))
	ts.Setenv("SOFTHSM2_CONF", os.Getenv("SOFTHSM2_CONF"))
}

// buildsigner KEYFILE: build tokenkey's test signer program (the exec:
// protocol) into the script's work directory, signing with KEYFILE; sets
// SIGNER to its exec: reference and TESTSIGNER_KEY.
func cmdBuildSigner(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: buildsigner KEYFILE")
	}
	src, err := filepath.Abs("../../tokenkey/testdata/testsigner")
	ts.Check(err)
	bin := ts.MkAbs("testsigner")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		ts.Fatalf("building the test signer: %v\n%s", err, out)
	}
	ts.Setenv("SIGNER", "exec:"+bin)
	ts.Setenv("TESTSIGNER_KEY", ts.MkAbs(args[0]))
}
