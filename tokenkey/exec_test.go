package tokenkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/testpki"
)

// buildTestSigner builds testdata/testsigner and writes its key.
func buildTestSigner(t *testing.T) (bin string, key *ecdsa.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "testsigner")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/testsigner").CombinedOutput(); err != nil {
		t.Fatalf("building the test signer: %v\n%s", err, out)
	}
	c := testpki.Leaf(t, testpki.CA(t, testpki.Options{}), testpki.Options{})
	_, keyPath := c.Write(t, dir, "k")
	t.Setenv("TESTSIGNER_KEY", keyPath)
	return bin, c.Key
}

// The external signer protocol: the public key is asked once, every
// signature is checked against it, and each way a signer can misbehave is
// an error of reason ReasonSigner naming it.
func TestExecSigner(t *testing.T) {
	bin, key := buildTestSigner(t)
	digest := sha256.Sum256([]byte("seal"))

	s, err := OpenExec(ExecScheme + bin)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(s.Public()) {
		t.Fatal("the public key is not the signer's")
	}
	sig, err := s.Sign(nil, digest[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
		t.Fatalf("sign: %v", err)
	}

	for _, c := range []struct{ mode, say string }{
		{"otherkey", "does not verify"},
		{"crash", "the token fell out"},
		{"hang", "no answer within"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			t.Setenv("TESTSIGNER_MODE", c.mode)
			s, err := openExec(ExecScheme+bin, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = s.Sign(nil, digest[:], crypto.SHA256)
			var te *Error
			if !errors.As(err, &te) || te.Reason != ReasonSigner || !strings.Contains(err.Error(), c.say) {
				t.Fatalf("got %v, want a signer error saying %q", err, c.say)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		t.Setenv("TESTSIGNER_MODE", "garbage")
		if _, err := OpenExec(ExecScheme + bin); err == nil || !strings.Contains(err.Error(), "PUBLIC KEY") {
			t.Fatalf("got %v", err)
		}
	})
	for _, ref := range []string{ExecScheme + "relative/signer", ExecScheme + filepath.Join(t.TempDir(), "missing")} {
		if _, err := OpenExec(ref); err == nil {
			t.Errorf("%s: no error", ref)
		}
	}
}
