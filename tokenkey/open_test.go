//go:build cgo

package tokenkey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlseal/tlseal/internal/softhsm"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/tokenkey"
)

// Keys generated inside a real SoftHSM2 token sign, on every curve tlseal
// seals with, and the signatures verify with the public key the token
// reports.
func TestSignWithTokenKey(t *testing.T) {
	tk := softhsm.Shared(t)
	for _, c := range []struct {
		curve, id string
		hash      crypto.Hash
	}{{"prime256v1", "01", crypto.SHA256}, {"secp384r1", "02", crypto.SHA384}, {"secp521r1", "03", crypto.SHA512}} {
		t.Run(c.curve, func(t *testing.T) {
			exported := tk.GenerateKey(t, "key-"+c.curve, c.id, c.curve)
			k, err := tokenkey.Open(tk.URI(t, "key-"+c.curve))
			if err != nil {
				t.Fatal(err)
			}
			pub, ok := k.Signer.Public().(*ecdsa.PublicKey)
			if !ok {
				t.Fatalf("a %T key", k.Signer.Public())
			}
			if exported != nil && !exported.Equal(pub) {
				t.Fatal("the signer's public key is not the one pkcs11-tool exports")
			}
			if c.curve == "prime256v1" && exported == nil {
				t.Fatal("pkcs11-tool exported no P-256 public key")
			}
			var digest []byte
			switch c.hash {
			case crypto.SHA256:
				d := sha256.Sum256([]byte("seal"))
				digest = d[:]
			case crypto.SHA384:
				d := sha512.Sum384([]byte("seal"))
				digest = d[:]
			default:
				d := sha512.Sum512([]byte("seal"))
				digest = d[:]
			}
			sig, err := k.Signer.Sign(nil, digest, c.hash)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(pub, digest, sig) {
				t.Fatal("the token's signature does not verify")
			}
		})
	}
}

// Each way a URI can fail says why, with its reason.
func TestOpenErrors(t *testing.T) {
	tk := softhsm.Shared(t)
	tk.GenerateKey(t, "present", "aa", "prime256v1")
	good := tk.URI(t, "present")
	pinFile := strings.TrimPrefix(good[strings.Index(good, "pin-source=file:"):], "pin-source=file:")
	cases := []struct {
		name, uri string
		want      tokenkey.Reason
		say       string
	}{
		{"not a URI", "pkcs11:token=x;object=y?module-path=" + softhsm.Module + "&pin-value=1&&%zz", tokenkey.ReasonInvalidURI, ""},
		{"no token label", "pkcs11:object=y?module-path=" + softhsm.Module + "&pin-value=1234", tokenkey.ReasonInvalidURI, "token="},
		{"no object", "pkcs11:token=tlseal-test?module-path=" + softhsm.Module + "&pin-value=1234", tokenkey.ReasonInvalidURI, "object="},
		{"missing module", "pkcs11:token=tlseal-test;object=present?module-path=/nonexistent/libnothing.so&pin-value=1234", tokenkey.ReasonModule, "not accessible"},
		{"no PIN", "pkcs11:token=tlseal-test;object=present?module-path=" + softhsm.Module, tokenkey.ReasonPIN, "pin-source"},
		{"unreadable PIN file", strings.Replace(good, pinFile, "/nonexistent/pin", 1), tokenkey.ReasonPIN, ""},
		{"no such token", strings.Replace(good, "token=tlseal-test", "token=nosuchtoken", 1), tokenkey.ReasonToken, ""},
		{"missing object", strings.Replace(good, "object=present", "object=absent", 1), tokenkey.ReasonNotFound, "absent"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := tokenkey.Open(c.uri)
			var te *tokenkey.Error
			if !errors.As(err, &te) || te.Reason != c.want {
				t.Fatalf("got %v, want reason %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.say) {
				t.Errorf("%q does not say %q", err, c.say)
			}
			if strings.Contains(err.Error(), "pin-value=1234") {
				t.Errorf("the PIN is in the message: %v", err)
			}
		})
	}
	if _, err := tokenkey.Open(good); err != nil {
		t.Fatalf("the good URI after the failures: %v", err)
	}
}

// A wrong PIN is refused. PKCS#11 logins are per process (a second login
// with any PIN succeeds once one has), so this runs in a process of its
// own: the test binary again, running only TestWrongPINChild.
func TestWrongPIN(t *testing.T) {
	tk := softhsm.Shared(t)
	tk.GenerateKey(t, "pin-test", "bb", "prime256v1")
	wrong := filepath.Join(t.TempDir(), "wrong.pin")
	os.WriteFile(wrong, []byte("9999\n"), 0o600)
	uri := tk.URI(t, "pin-test")
	uri = uri[:strings.Index(uri, "pin-source=file:")] + "pin-source=file:" + wrong
	cmd := exec.Command(os.Args[0], "-test.run=^TestWrongPINChild$", "-test.v")
	cmd.Env = append(os.Environ(), "TLSEAL_TOKENKEY_CHILD_URI="+uri)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "refused:") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestWrongPINChild(t *testing.T) {
	uri := os.Getenv("TLSEAL_TOKENKEY_CHILD_URI")
	if uri == "" {
		t.Skip("run by TestWrongPIN")
	}
	_, err := tokenkey.Open(uri) // SOFTHSM2_CONF is the parent's

	var te *tokenkey.Error
	if !errors.As(err, &te) || te.Reason != tokenkey.ReasonToken {
		t.Fatalf("a wrong PIN: got %v, want reason %v", err, tokenkey.ReasonToken)
	}
	t.Logf("refused: %v", err)
}

// Generate makes a key inside the token (never twice under one label);
// StoreCertificate puts its certificate beside it, where Open finds it.
func TestGenerateAndStoreCertificate(t *testing.T) {
	tk := softhsm.Shared(t)
	uri := tk.URI(t, "generated")
	s, err := tokenkey.Generate(uri, elliptic.P384())
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := s.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P384() {
		t.Fatalf("generated %T", s.Public())
	}
	_, err = tokenkey.Generate(uri, elliptic.P256())
	var te *tokenkey.Error
	if !errors.As(err, &te) || te.Reason != tokenkey.ReasonExists {
		t.Fatalf("a second key under the label: %v", err)
	}
	ca := testpki.CA(t, testpki.Options{})
	cert := testpki.IssueFor(t, ca, s.Public(), testpki.Options{CN: "generated"})
	if err := tokenkey.StoreCertificate(uri, cert); err != nil {
		t.Fatal(err)
	}
	k, err := tokenkey.Open(uri)
	if err != nil {
		t.Fatal(err)
	}
	if k.Cert == nil || !k.Cert.Equal(cert) {
		t.Fatalf("Open found certificate %v", k.Cert)
	}
}

func TestRedact(t *testing.T) {
	got := tokenkey.Redact("pkcs11:token=a;object=b?module-path=/m.so&pin-value=secret&x=1")
	if strings.Contains(got, "secret") || !strings.Contains(got, "pin-value=(redacted)") || !strings.Contains(got, "x=1") {
		t.Errorf("Redact: %s", got)
	}
}

// A key whose token goes away fails to sign with ReasonUnavailable, as
// often as it is asked, and signs again once the token is back; a key
// that took its label meanwhile is refused, never used.
func TestTokenComesBack(t *testing.T) {
	tk := softhsm.Shared(t)
	tk.GenerateKey(t, "unplugged", "cc", "prime256v1")
	k, err := tokenkey.Open(tk.URI(t, "unplugged"))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("seal"))
	sign := func() error {
		sig, err := k.Signer.Sign(nil, d[:], crypto.SHA256)
		if err == nil && !ecdsa.VerifyASN1(k.Signer.Public().(*ecdsa.PublicKey), d[:], sig) {
			t.Fatal("a signature that does not verify")
		}
		return err
	}
	if err := sign(); err != nil {
		t.Fatal(err)
	}
	tk.Unplug(t)
	for i := range 3 {
		err := sign()
		var te *tokenkey.Error
		if !errors.As(err, &te) || te.Reason != tokenkey.ReasonUnavailable {
			tk.Replug(t)
			t.Fatalf("attempt %d with the token away: got %v, want reason %v", i, err, tokenkey.ReasonUnavailable)
		}
	}
	tk.Replug(t)
	if err := sign(); err != nil {
		t.Fatalf("the token is back: %v", err)
	}

	// Another key under the same label: the signer does not follow it.
	tk.Unplug(t)
	sign()
	tk.Replug(t)
	out, err := exec.Command("pkcs11-tool", "--module", softhsm.Module, "--token-label", tk.Label, "--login", "--pin", softhsm.PIN,
		"--delete-object", "--type", "privkey", "--label", "unplugged").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool --delete-object: %v\n%s", err, out)
	}
	tk.GenerateKey(t, "unplugged", "cd", "prime256v1")
	err = sign()
	var te *tokenkey.Error
	if !errors.As(err, &te) || te.Reason != tokenkey.ReasonNotFound || !strings.Contains(err.Error(), "not the key it had before") {
		t.Fatalf("a new key under the old label: got %v", err)
	}
}
