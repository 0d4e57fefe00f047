package revocation_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests make their CAs, certificates and CRLs with openssl ca, in the
// test's temporary directory, and skip without openssl.

func opensslBin(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed: the CRL interop tests need it (apt-get install -y openssl)")
	}
	return bin
}

// openssl runs openssl in dir and returns its output; it fails the test
// if openssl does.
func openssl(t testing.TB, dir string, args ...string) string {
	t.Helper()
	opensslBin(t)
	out, err := runOpenSSL(dir, args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// runOpenSSL runs openssl in dir and returns its output and error.
func runOpenSSL(dir string, args ...string) (string, error) {
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// caConfig is the openssl.cnf of a test CA, run from the CA's directory.
// %s: the crlnumber line (empty for a version 1 CRL) and the
// crl_extensions line.
const caConfig = `[ca]
default_ca = CA_default

[CA_default]
dir              = .
database         = ./index.txt
new_certs_dir    = ./newcerts
serial           = ./serial
%s
certificate      = ./ca.pem
private_key      = ./ca.key
default_md       = sha256
default_days     = 30
default_crl_days = 7
policy           = policy_any
unique_subject   = no
copy_extensions  = none
%s

[policy_any]
commonName = supplied

[crl_ext]
authorityKeyIdentifier = keyid:always

[noaki_ext]
issuerAltName = URI:http://example.test/ca

[delta_ext]
authorityKeyIdentifier = keyid:always
2.5.29.27 = critical, DER:02:01:01

[critical_ext]
authorityKeyIdentifier = keyid:always
1.3.6.1.4.1.99999.1 = critical, DER:05:00

[indirect_ext]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp_indirect

[idp_indirect]
fullname    = URI:http://example.test/a.crl
indirectCRL = TRUE

[partial_ext]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp_partial

[idp_partial]
onlysomereasons = keyCompromise

[idpa_ext]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp_a

[idp_a]
fullname = URI:http://example.test/a.crl
onlyuser = TRUE

[idpb_ext]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp_b

[idp_b]
fullname = URI:http://example.test/b.crl

[onlyca_ext]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp_onlyca

[idp_onlyca]
onlyCA = TRUE

[ca_ext]
basicConstraints     = critical, CA:TRUE
keyUsage             = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ca_otherskid_ext]
basicConstraints     = critical, CA:TRUE
keyUsage             = critical, keyCertSign, cRLSign
subjectKeyIdentifier = 01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14

[ca_nocrlsign_ext]
basicConstraints     = critical, CA:TRUE
keyUsage             = critical, keyCertSign
subjectKeyIdentifier = hash

[signer_ext]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

[signer_cdp_ext]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
crlDistributionPoints  = URI:http://example.test/a.crl
`

// testCA is a CA that openssl ca runs in its own directory.
type testCA struct {
	t   testing.TB
	dir string
}

// caOptions shape a test CA.
type caOptions struct {
	ext  string // certificate extension section; default ca_ext
	v1   bool   // no crlnumber and no crl_extensions: openssl writes version 1 CRLs
	key  string // an existing key file to use instead of a new P-256 key
	days int    // CRL validity in days; default 7
}

func newCA(t testing.TB, dir, subject string, o caOptions) *testCA {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "newcerts"), 0o755); err != nil {
		t.Fatal(err)
	}
	crlnumber, crlext := "crlnumber        = ./crlnumber", "crl_extensions   = crl_ext"
	if o.v1 {
		crlnumber, crlext = "", ""
	}
	files := map[string]string{
		"openssl.cnf": fmt.Sprintf(caConfig, crlnumber, crlext),
		"index.txt":   "",
		"serial":      "1000\n",
		"crlnumber":   "01\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if o.ext == "" {
		o.ext = "ca_ext"
	}
	args := []string{"req", "-new", "-x509", "-config", "openssl.cnf", "-extensions", o.ext, "-subj", subject, "-days", "30", "-out", "ca.pem"}
	if o.key != "" {
		args = append(args, "-key", o.key)
	} else {
		args = append(args, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key")
	}
	openssl(t, dir, args...)
	return &testCA{t: t, dir: dir}
}

// path returns the path of a file in the CA's directory.
func (ca *testCA) path(name string) string { return filepath.Join(ca.dir, name) }

// issue makes a P-256 signer certificate NAME.pem with openssl ca.
func (ca *testCA) issue(name, cn, ext string) *x509.Certificate {
	ca.t.Helper()
	openssl(ca.t, ca.dir, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", name+".key", "-subj", "/CN="+cn, "-out", name+".csr")
	openssl(ca.t, ca.dir, "ca", "-batch", "-config", "openssl.cnf", "-in", name+".csr", "-out", name+".pem",
		"-extensions", ext, "-notext")
	return readCert(ca.t, ca.path(name+".pem"))
}

// revoke revokes NAME.pem with the given openssl ca options
// (-crl_reason, -crl_compromise, -crl_hold).
func (ca *testCA) revoke(name string, args ...string) {
	ca.t.Helper()
	openssl(ca.t, ca.dir, append([]string{"ca", "-config", "openssl.cnf", "-revoke", name + ".pem"}, args...)...)
}

// gencrl writes a CRL (PEM) to NAME with the given openssl ca options and
// returns its path.
func (ca *testCA) gencrl(name string, args ...string) string {
	ca.t.Helper()
	openssl(ca.t, ca.dir, append([]string{"ca", "-config", "openssl.cnf", "-gencrl", "-out", name}, args...)...)
	return ca.path(name)
}

// der converts the PEM CRL NAME to DER and returns the DER's path.
func (ca *testCA) der(name string) string {
	ca.t.Helper()
	out := strings.TrimSuffix(name, ".pem") + ".der"
	openssl(ca.t, ca.dir, "crl", "-in", name, "-outform", "DER", "-out", out)
	return ca.path(out)
}

func (ca *testCA) cert() *x509.Certificate { return readCert(ca.t, ca.path("ca.pem")) }

func readCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// opensslTime formats t for -crl_lastupdate and -crl_nextupdate.
func opensslTime(t time.Time) string { return t.UTC().Format("20060102150405Z") }

// unrevoke marks serial valid again in the CA's database, as lifting a
// certificateHold does (openssl ca has no command for it).
func (ca *testCA) unrevoke(serial string) {
	ca.t.Helper()
	b, err := os.ReadFile(ca.path("index.txt"))
	if err != nil {
		ca.t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	done := false
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) == 6 && f[0] == "R" && strings.EqualFold(f[3], serial) {
			f[0], f[2] = "V", ""
			lines[i], done = strings.Join(f, "\t"), true
		}
	}
	if !done {
		ca.t.Fatalf("serial %s is not revoked in index.txt", serial)
	}
	if err := os.WriteFile(ca.path("index.txt"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		ca.t.Fatal(err)
	}
}
