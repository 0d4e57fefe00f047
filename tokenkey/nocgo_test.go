package tokenkey_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlseal/tlseal/internal/testpki"
)

// A tlseal built without cgo still builds, and a PKCS#11 key is refused
// with a message naming the build (exit 2), not a crash or a silent
// fallback.
func TestBuildWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tlseal (-short)")
	}
	bin := filepath.Join(t.TempDir(), "tlseal")
	build := exec.Command("go", "build", "-o", bin, "../cmd/tlseal")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "e.json"), []byte(`{"id":1}`), 0o644)
	testpki.Leaf(t, testpki.CA(t, testpki.Options{}), testpki.Options{}).Write(t, dir, "c")
	cmd := exec.Command(bin, "sign", "--cert", "c.pem", "--key", "pkcs11:token=t;object=k?pin-value=1", "e.json", "-o", "s.json")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2\n%s", err, out)
	}
	if !strings.Contains(string(out), "no PKCS#11 support in this build") || !strings.Contains(string(out), "CGO_ENABLED=0") {
		t.Errorf("the message does not name the build: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "s.json")); err == nil {
		t.Error("something was sealed")
	}
}
