package timeline_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlseal/tlseal/timeline"
)

// needTool returns the path of a third-party tool; in CI a missing tool is
// a failure, not a skip (.ci/run installs them).
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (installed by .ci/run)", name)
		}
		t.Skipf("%s not installed", name)
	}
}

// The independent verification recipe of the seal format, run as a user
// would, with jq, base64 and openssl: nothing of tlseal's is involved but
// getting the envelope out of a RIFF file.
const opensslRecipe = `set -e
jq -jcS 'del(.sig)' envelope.json > signing-input
jq -r .sig envelope.json | base64 -d > sig.der
jq -r .certPem envelope.json > signer.pem
openssl x509 -in signer.pem -pubkey -noout > signer.pub
openssl dgst -$DGST -verify signer.pub -signature sig.der signing-input
openssl verify -CAfile ca.pem signer.pem
`

func TestOpenSSLRecipe(t *testing.T) {
	for _, tool := range []string{"jq", "openssl", "base64", "bash"} {
		needTool(t, tool)
	}
	ca, err := os.ReadFile(filepath.Join(goldenDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenCurves {
		for _, name := range []string{"event.json", "tone.wav"} {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				sealed, err := os.ReadFile(filepath.Join(goldenDir, "sealed-"+c.name+"-"+name))
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o644)
				os.WriteFile(filepath.Join(dir, "sealed"), sealed, 0o644)
				if strings.HasSuffix(name, ".json") {
					// A JSON file's seal is a member: jq gets it.
					run(t, dir, "jq -c .seal sealed > envelope.json")
					// The one byte form, checked with jq (docs/format.md):
					// the canonical envelope stands in the file as it is,
					// and a re-serialized one does not.
					const formCheck = `grep -qF "\"seal\":$(jq -jcS .seal sealed)" sealed && echo FORM-OK || echo FORM-BAD`
					if out := run(t, dir, formCheck); !strings.Contains(out, "FORM-OK") {
						t.Errorf("the jq form check refuses the golden file: %s", out)
					}
					run(t, dir, "jq . sealed > pretty && mv pretty sealed")
					if out := run(t, dir, formCheck); !strings.Contains(out, "FORM-BAD") {
						t.Errorf("the jq form check accepts a pretty-printed file: %s", out)
					}
					os.WriteFile(filepath.Join(dir, "sealed"), sealed, 0o644)
				} else {
					o, err := timeline.Open(bytes.NewReader(sealed), int64(len(sealed)))
					if err != nil {
						t.Fatal(err)
					}
					os.WriteFile(filepath.Join(dir, "envelope.json"), o.EnvelopeBytes, 0o644)
				}
				dgst := map[string]string{"es256": "sha256", "es384": "sha384", "es512": "sha512"}[c.name]
				out := run(t, dir, "DGST="+dgst+"\n"+opensslRecipe)
				if !strings.Contains(out, "Verified OK") || !strings.Contains(out, "signer.pem: OK") {
					t.Fatalf("openssl did not verify:\n%s", out)
				}
				// The canonical signing input is what tlseal signed.
				si, _ := os.ReadFile(filepath.Join(dir, "signing-input"))
				env, err := timeline.ParseEnvelope(mustRead(t, filepath.Join(dir, "envelope.json")))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(si, env.SigningInput()) {
					t.Errorf("jq -jcS signing input differs from tlseal's:\n jq: %s\n go: %s", si, env.SigningInput())
				}
				// A changed signing input no longer verifies: the recipe can fail.
				bad := run(t, dir, "DGST="+dgst+"\n( "+strings.Replace(opensslRecipe, "> signing-input", "> signing-input; echo >> signing-input", 1)+") || true")
				if strings.Contains(bad, "Verified OK") {
					t.Fatal("openssl verified a modified signing input")
				}
			})
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func run(t *testing.T, dir, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s\n%s: %v", script, out, err)
	}
	return string(out)
}
