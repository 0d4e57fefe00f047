// Package softhsm sets up real SoftHSM2 tokens for tests: a token directory
// of the process's own (SOFTHSM2_CONF), tokens made with softhsm2-util and
// keys generated inside them with pkcs11-tool (OpenSC), so that tests sign
// with keys that never existed outside a token. Test support only.
//
// SoftHSM2 reads its configuration and its token directory once per
// process, when the module is first initialised: a test binary has one
// token (Shared), made before anything opens the module; its tests tell
// their keys apart by label and id.
package softhsm

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// TB is the part of testing.TB this package needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Module is where Debian and Ubuntu install the SoftHSM2 PKCS#11 module.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// TokenLabel is the label of the test token; PIN and SOPIN are its PINs.
const (
	TokenLabel = "tlseal-test"
	PIN        = "1234"
	SOPIN      = "12345678"
)

var setup struct {
	sync.Once
	dir string
	err error
}

// Setup makes the process's token directory and points SOFTHSM2_CONF at
// it. Without SoftHSM2 and OpenSC the test is skipped, unless
// TLSEAL_REQUIRE_SOFTHSM=1 (CI sets it), then it fails.
func Setup(t TB) string {
	t.Helper()
	for _, tool := range []string{"softhsm2-util", "pkcs11-tool"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, tool)
		}
	}
	if _, err := os.Stat(Module); err != nil {
		missing(t, Module)
	}
	setup.Do(func() {
		dir, err := os.MkdirTemp("", "tlseal-softhsm-")
		if err != nil {
			setup.err = err
			return
		}
		conf := filepath.Join(dir, "softhsm2.conf")
		tokens := filepath.Join(dir, "tokens")
		if err := os.Mkdir(tokens, 0o700); err != nil {
			setup.err = err
			return
		}
		text := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			setup.err = err
			return
		}
		os.Setenv("SOFTHSM2_CONF", conf)
		setup.dir = dir
		out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", TokenLabel, "--pin", PIN, "--so-pin", SOPIN).CombinedOutput()
		if err != nil {
			setup.err = fmt.Errorf("softhsm2-util --init-token: %v\n%s", err, out)
		}
	})
	if setup.err != nil {
		t.Fatalf("softhsm: %v", setup.err)
	}
	return setup.dir
}

func missing(t TB, what string) {
	t.Helper()
	if os.Getenv("TLSEAL_REQUIRE_SOFTHSM") == "1" {
		t.Fatalf("%s is missing (apt-get install -y softhsm2 opensc)", what)
	}
	t.Skipf("%s is missing (apt-get install -y softhsm2 opensc; TLSEAL_REQUIRE_SOFTHSM=1 makes this a failure)", what)
}

// Token is an initialised SoftHSM2 token.
type Token struct {
	Label string
	dir   string
}

// Shared returns the process's test token.
func Shared(t TB) *Token {
	t.Helper()
	return &Token{Label: TokenLabel, dir: Setup(t)}
}

// GenerateKey makes an EC key pair inside the token (curve: prime256v1,
// secp384r1 or secp521r1) with the label and hex id, and returns its
// public key as pkcs11-tool exports it; nil where that tool cannot (OpenSC
// fails to export some curves' public keys).
func (tk *Token) GenerateKey(t TB, label, idHex, curve string) *ecdsa.PublicKey {
	t.Helper()
	run(t, "pkcs11-tool", "--module", Module, "--token-label", tk.Label, "--login", "--pin", PIN,
		"--keypairgen", "--key-type", "EC:"+curve, "--label", label, "--id", idHex)
	der := filepath.Join(tk.dir, fmt.Sprintf("%s-%s.pub.der", tk.Label, label))
	if err := exec.Command("pkcs11-tool", "--module", Module, "--token-label", tk.Label, "--read-object", "--type", "pubkey",
		"--label", label, "--output-file", der).Run(); err != nil {
		return nil
	}
	b, err := os.ReadFile(der)
	if err != nil {
		t.Fatalf("%v", err)
	}
	pub, err := x509.ParsePKIXPublicKey(b)
	if err != nil {
		t.Fatalf("the token's public key: %v", err)
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("the token's key is %T", pub)
	}
	return k
}

// WriteCertificate stores a certificate in the token with the label and
// hex id of its key.
func (tk *Token) WriteCertificate(t TB, label, idHex string, cert *x509.Certificate) {
	t.Helper()
	p := filepath.Join(tk.dir, fmt.Sprintf("%s-%s.crt.der", tk.Label, label))
	if err := os.WriteFile(p, cert.Raw, 0o600); err != nil {
		t.Fatalf("%v", err)
	}
	run(t, "pkcs11-tool", "--module", Module, "--token-label", tk.Label, "--login", "--pin", PIN,
		"--write-object", p, "--type", "cert", "--label", label, "--id", idHex)
}

// Unplug makes the process's tokens vanish, as a token pulled out or an HSM
// going down does: SoftHSM2 finds its token directory gone, and the handles
// of its objects stop working. Replug brings them back (a session opened
// after that sees them; the old handles stay invalid). A test that unplugs
// must not run in parallel with other token tests of its process.
func (tk *Token) Unplug(t TB) {
	t.Helper()
	tokens := filepath.Join(tk.dir, "tokens")
	if err := os.Rename(tokens, tokens+".unplugged"); err != nil {
		t.Fatalf("unplug: %v", err)
	}
}

// Replug undoes Unplug.
func (tk *Token) Replug(t TB) {
	t.Helper()
	tokens := filepath.Join(tk.dir, "tokens")
	if err := os.Rename(tokens+".unplugged", tokens); err != nil {
		t.Fatalf("replug: %v", err)
	}
}

// URI is the RFC 7512 URI of the object, with the PIN in a file.
func (tk *Token) URI(t TB, object string) string {
	t.Helper()
	pin := filepath.Join(tk.dir, "pin")
	if err := os.WriteFile(pin, []byte(PIN+"\n"), 0o600); err != nil {
		t.Fatalf("%v", err)
	}
	return fmt.Sprintf("pkcs11:token=%s;object=%s?module-path=%s&pin-source=file:%s", tk.Label, object, Module, pin)
}

// PEM encodes a certificate.
func PEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func run(t TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
