package revocation_test

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tlseal/tlseal/revocation"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the CRLs and certificates of testdata with openssl (TestUpdateSeeds)")

// seedInvalidity is the invalidity date of testdata/revoked.pem's entry.
var seedInvalidity = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// TestUpdateSeeds writes testdata: the CRLs and certificates that
// TestCommittedCRLs checks and FuzzParseCRLs starts from, so that neither
// needs openssl. Run: go test ./revocation -run TestUpdateSeeds -update-seeds
func TestUpdateSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("rewrites testdata only with -update-seeds")
	}
	dir := t.TempDir()
	const subject = "/CN=tlseal seed CA/O=tlseal tests"
	ca := newCA(t, filepath.Join(dir, "ca"), subject, caOptions{})
	ca.issue("revoked", "revoked signer", "signer_ext")
	ca.issue("valid", "valid signer", "signer_ext")
	files := map[string]string{ // testdata name: file made
		"ca.pem":      ca.path("ca.pem"),
		"revoked.pem": ca.path("revoked.pem"),
		"valid.pem":   ca.path("valid.pem"),
		"before.pem":  ca.gencrl("before.pem", "-crldays", "3650"),
	}
	ca.revoke("revoked", "-crl_compromise", opensslTime(seedInvalidity))
	files["crl.pem"] = ca.gencrl("crl.pem", "-crldays", "3650")
	files["crl.der"] = ca.der("crl.pem")
	ca.gencrl("expired.pem", "-crl_lastupdate", "20200101000000Z", "-crl_nextupdate", "20200201000000Z")
	files["expired.der"] = ca.der("expired.pem")
	for _, e := range []string{"delta", "critical", "indirect", "idpa"} {
		ca.gencrl(e+".pem", "-crlexts", e+"_ext", "-crldays", "3650")
		files[e+".der"] = ca.der(e + ".pem")
	}
	forger := newCA(t, filepath.Join(dir, "forger"), subject, caOptions{})
	forger.gencrl("forged.pem", "-crldays", "3650")
	files["forged.der"] = forger.der("forged.pem")

	out := "testdata"
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, from := range files {
		writeFile(t, filepath.Join(out, name), readFile(t, from))
	}
	// Two CRLs in one PEM file: before the revocation, then after it.
	writeFile(t, filepath.Join(out, "two.pem"), append(readFile(t, files["before.pem"]), readFile(t, files["crl.pem"])...))
	if err := os.Remove(filepath.Join(out, "before.pem")); err != nil {
		t.Fatal(err)
	}
}

// TestCommittedCRLs checks the CRLs of testdata (made by openssl ca, see
// TestUpdateSeeds) without openssl.
func TestCommittedCRLs(t *testing.T) {
	ca := readCert(t, "testdata/ca.pem")
	revoked := readCert(t, "testdata/revoked.pem")
	valid := readCert(t, "testdata/valid.pem")
	crl, err := revocation.Load("testdata/crl.pem")
	if err != nil {
		t.Fatal(err)
	}
	now := crl.CRLs()[0].List.ThisUpdate.Add(time.Hour)
	tests := []struct {
		file    string
		cert    string
		trusted time.Time
		want    revocation.Status
	}{
		{"crl.pem", "revoked", seedInvalidity.Add(time.Hour), revocation.Revoked},
		{"crl.der", "revoked", seedInvalidity.Add(-time.Hour), revocation.RevokedAfterTrustedTime},
		{"crl.der", "revoked", time.Time{}, revocation.Revoked},
		{"crl.der", "valid", time.Time{}, revocation.NotRevoked},
		{"two.pem", "revoked", time.Time{}, revocation.Revoked},
		{"two.pem", "valid", time.Time{}, revocation.NotRevoked},
		{"expired.der", "valid", time.Time{}, revocation.CRLExpired},
		{"forged.der", "valid", time.Time{}, revocation.CRLInvalid},
		{"delta.der", "valid", time.Time{}, revocation.CRLInvalid},
		{"critical.der", "valid", time.Time{}, revocation.CRLInvalid},
		{"indirect.der", "valid", time.Time{}, revocation.CRLInvalid},
		{"idpa.der", "revoked", time.Time{}, revocation.Revoked},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.cert, func(t *testing.T) {
			s, err := revocation.Load(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			c := valid
			if tt.cert == "revoked" {
				c = revoked
			}
			r, err := s.Check(c, ca, revocation.Options{TrustedTime: tt.trusted, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.want {
				t.Fatalf("%v, want %v: %s", r.Status, tt.want, r.Detail)
			}
			if r.Status == revocation.Revoked && !r.RevokedAt.Equal(seedInvalidity) {
				t.Errorf("R %v, want the invalidity date", r.RevokedAt)
			}
		})
	}
}

// seedFiles returns the files of testdata.
func seedFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"testdata/*.pem", "testdata/*.der"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no files in testdata")
	}
	return files
}
