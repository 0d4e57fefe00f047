package certstore

import (
	"crypto/ecdsa"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// openssl runs the openssl command in dir, skipping the test if openssl is
// not installed.
func openssl(t *testing.T, dir string, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOpenSSLKeys adds certificates and keys made by openssl on each curve,
// as PKCS#8 and as SEC1 (with and without the EC PARAMETERS block), and
// signs with each through a @certstore:// reference.
func TestOpenSSLKeys(t *testing.T) {
	curves := []struct{ name, openssl string }{
		{"P-256", "prime256v1"}, {"P-384", "secp384r1"}, {"P-521", "secp521r1"},
	}
	path := newTestStore(t)
	for _, c := range curves {
		for _, form := range []string{"pkcs8", "sec1", "sec1-params", "combined"} {
			t.Run(c.name+"/"+form, func(t *testing.T) {
				dir := t.TempDir()
				switch form {
				case "pkcs8", "combined":
					openssl(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:"+c.name, "-out", "key.pem")
				case "sec1":
					openssl(t, dir, "ecparam", "-name", c.openssl, "-genkey", "-noout", "-out", "key.pem")
				case "sec1-params":
					openssl(t, dir, "ecparam", "-name", c.openssl, "-genkey", "-out", "key.pem")
				}
				openssl(t, dir, "req", "-new", "-x509", "-key", "key.pem", "-subj", "/CN=openssl "+c.name,
					"-days", "2", "-out", "cert.pem")
				keyPEM := readFile(t, filepath.Join(dir, "key.pem"))
				want := map[string]string{"pkcs8": "BEGIN PRIVATE KEY", "sec1": "BEGIN EC PRIVATE KEY",
					"sec1-params": "BEGIN EC PARAMETERS", "combined": "BEGIN PRIVATE KEY"}[form]
				if !strings.Contains(string(keyPEM), want) {
					t.Fatalf("openssl wrote no %q block", want)
				}
				certPEM := readFile(t, filepath.Join(dir, "cert.pem"))
				var e Element
				var err error
				id := c.name + "-" + form
				if form == "combined" {
					e, err = NewElement(id, append(certPEM, keyPEM...), nil, []string{"t"})
				} else {
					e, err = NewElement(id, certPEM, keyPEM, []string{"t"})
				}
				if err != nil {
					t.Fatal(err)
				}
				mustAdd(t, path, e)
				s, err := Open(path, testPassword)
				if err != nil {
					t.Fatal(err)
				}
				cert, chain, key, err := s.Signer(Ref(id))
				if err != nil {
					t.Fatal(err)
				}
				if len(chain) != 0 || cert.Subject.CommonName != "openssl "+c.name {
					t.Errorf("cert %v chain %d", cert.Subject, len(chain))
				}
				if got := key.Public().(*ecdsa.PublicKey).Curve.Params().Name; got != c.name {
					t.Errorf("curve %s", got)
				}
				sigCheck(t, cert, key)
			})
		}
	}
}

func TestOpenSSLRefusedKeys(t *testing.T) {
	dir := t.TempDir()
	openssl(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem")
	openssl(t, dir, "req", "-new", "-x509", "-key", "key.pem", "-subj", "/CN=x", "-days", "2", "-out", "cert.pem")
	openssl(t, dir, "pkcs8", "-topk8", "-in", "key.pem", "-passout", "pass:pw", "-out", "enc.pem")
	openssl(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.pem")
	certPEM := readFile(t, filepath.Join(dir, "cert.pem"))
	tests := []struct {
		name string
		key  string
		want Reason
	}{
		{"encrypted", "enc.pem", ReasonInvalidElement},
		{"other key", "other.pem", ReasonKeyMismatch},
		{"no key in file", "cert.pem", ReasonInvalidElement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewElement("a", certPEM, readFile(t, filepath.Join(dir, tt.key)), nil)
			wantReason(t, err, tt.want)
			if tt.name == "encrypted" && !strings.Contains(err.Error(), "encrypted") {
				t.Errorf("unclear error %v", err)
			}
		})
	}
	// A certificate file with two certificates is refused; DER is accepted.
	_, err := NewElement("a", append(certPEM, certPEM...), nil, nil)
	wantReason(t, err, ReasonInvalidElement)
	openssl(t, dir, "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der")
	e, err := NewElement("a", readFile(t, filepath.Join(dir, "cert.der")), nil, nil)
	if err != nil || e.Key != nil {
		t.Fatalf("DER: %v", err)
	}
}

// TestOpenSSLRSA stores an RSA certificate and key (storage accepts them)
// but refuses to sign with it.
func TestOpenSSLRSA(t *testing.T) {
	dir := t.TempDir()
	openssl(t, dir, "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem",
		"-subj", "/CN=rsa", "-days", "2", "-out", "cert.pem")
	e, err := NewElement("rsa", readFile(t, filepath.Join(dir, "cert.pem")), readFile(t, filepath.Join(dir, "key.pem")), nil)
	if err != nil {
		t.Fatal(err)
	}
	path := newTestStore(t)
	mustAdd(t, path, e)
	s, err := Open(path, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = s.Signer(Ref("rsa"))
	wantReason(t, err, ReasonUnsupportedKey)
}

// TestOpenSSLPKCS12 reads .p12 files written by openssl pkcs12 -export, in
// OpenSSL 3's default encryption (AES-256-CBC, PBKDF2) and with -legacy.
func TestOpenSSLPKCS12(t *testing.T) {
	for _, variant := range []string{"default", "legacy", "with-ca"} {
		t.Run(variant, func(t *testing.T) {
			dir := t.TempDir()
			openssl(t, dir, "req", "-new", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
				"-keyout", "ca.key", "-subj", "/CN=p12 CA", "-days", "2", "-out", "ca.pem",
				"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign")
			openssl(t, dir, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
				"-keyout", "key.pem", "-subj", "/CN=p12 signer", "-out", "req.csr")
			openssl(t, dir, "x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "2", "-out", "cert.pem")
			args := []string{"pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-passout", "pass:p12 secret", "-out", "x.p12"}
			switch variant {
			case "legacy":
				args = append(args, "-legacy")
			case "with-ca":
				args = append(args, "-certfile", "ca.pem")
			}
			openssl(t, dir, args...)
			p12 := readFile(t, filepath.Join(dir, "x.p12"))

			_, _, err := NewElementFromPKCS12("a", p12, "wrong", nil)
			wantReason(t, err, ReasonInvalidArgument)

			e, cas, err := NewElementFromPKCS12("p12", p12, "p12 secret", []string{TagEngineDefault})
			if err != nil {
				t.Fatal(err)
			}
			if wantCAs := map[string]int{"with-ca": 1}[variant]; len(cas) != wantCAs {
				t.Errorf("%d CA certificates, want %d", len(cas), wantCAs)
			}
			path := newTestStore(t)
			mustAdd(t, path, e)
			s, err := Open(path, testPassword)
			if err != nil {
				t.Fatal(err)
			}
			cert, _, key, err := s.Signer("")
			if err != nil {
				t.Fatal(err)
			}
			if cert.Subject.CommonName != "p12 signer" {
				t.Errorf("subject %v", cert.Subject)
			}
			sigCheck(t, cert, key)
			caCerts, _ := ParseCertificates(readFile(t, filepath.Join(dir, "ca.pem")))
			if err := cert.CheckSignatureFrom(caCerts[0]); err != nil {
				t.Error(err)
			}
		})
	}
}
