package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tlseal/tlseal/certstore"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/verify"
)

const csPasswordHex = "00ff0a0d7365637265740000"

// csRun runs tlseal with args and returns stdout, stderr and the exit
// status.
func csRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	opts := &rootOptions{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
	cmd := newRootCommand(opts)
	cmd.SetArgs(args)
	code = reportExit(opts.stderr, cmd.ExecuteContext(context.Background()))
	return out.String(), errb.String(), code
}

// csOK runs tlseal and fails the test unless it exits 0.
func csOK(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := csRun(t, args...)
	if code != 0 {
		t.Fatalf("tlseal %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// csFail runs tlseal, wants exit 2 and an error containing want.
func csFail(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errs, code := csRun(t, args...)
	if code != exitError || !strings.Contains(errs, want) {
		t.Fatalf("tlseal %s: exit %d, want 2 with %q\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errs)
	}
	if !strings.HasPrefix(errs, "tlseal: ") {
		t.Errorf("error not in the one-line form: %q", errs)
	}
}

func csOpenSSL(t *testing.T, dir string, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	c := exec.Command(bin, args...)
	c.Dir = dir
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestCertstoreVerbs goes through every verb and checks each result.
func TestCertstoreVerbs(t *testing.T) {
	if testing.Short() {
		t.Skip("full key derivation in every command")
	}
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	pw := "--password-hex=" + csPasswordHex
	store := p("store.ecs")
	csOpenSSL(t, dir, "req", "-new", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
		"-keyout", "ca.key", "-subj", "/CN=verb CA", "-days", "2", "-out", "ca.pem",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign")
	csOpenSSL(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "signer.key")
	csOpenSSL(t, dir, "req", "-new", "-key", "signer.key", "-subj", "/CN=verb signer", "-out", "signer.csr")
	csOpenSSL(t, dir, "x509", "-req", "-in", "signer.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "2", "-out", "signer.pem")
	csOpenSSL(t, dir, "pkcs12", "-export", "-inkey", "signer.key", "-in", "signer.pem", "-passout", "pass:p12pw", "-out", "signer.p12")

	// create
	if out := csOK(t, "certstore", store, "create", pw); !strings.Contains(out, "created") {
		t.Errorf("create: %q", out)
	}
	if fi, err := os.Stat(store); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store mode: %v %v", fi, err)
	}
	csFail(t, "already exists", "certstore", store, "create", pw)

	// add (FILE first and OP first), with and without key, with tags
	csOK(t, "certstore", store, "add", "ca", p("ca.pem"), "--tags", "-cadefault", pw)
	csOK(t, "certstore", "add", store, "signer", p("signer.pem"), p("signer.key"), "--tags=-enginedefault,x", pw)
	csFail(t, "already exists", "certstore", store, "add", "ca", p("ca.pem"), pw)
	csFail(t, "does not match", "certstore", store, "add", "bad", p("signer.pem"), p("ca.key"), pw)
	csFail(t, "invalid ID", "certstore", store, "add", "a/b", p("ca.pem"), pw)

	// addp12: the password from a file, the environment, or (with a
	// warning: ps shows it) the argument.
	os.WriteFile(p("p12.pw"), []byte("p12pw\n"), 0o600)
	csOK(t, "certstore", store, "addp12", "p12", p("signer.p12"), "--p12-password-file", p("p12.pw"), pw)
	t.Setenv(p12PasswordEnv, "p12pw")
	csOK(t, "certstore", store, "addp12", "p12env", p("signer.p12"), pw)
	t.Setenv(p12PasswordEnv, "wrong")
	csFail(t, "PKCS#12", "certstore", store, "addp12", "p12b", p("signer.p12"), pw)
	os.Unsetenv(p12PasswordEnv)
	if _, errs, code := csRun(t, "certstore", store, "addp12", "p12arg", p("signer.p12"), "p12pw", pw); code != 0 || !strings.Contains(errs, "visible to every user") {
		t.Errorf("password argument: exit %d, %q", code, errs)
	}
	csFail(t, "not both", "certstore", store, "addp12", "p12c", p("signer.p12"), "p12pw", "--p12-password-file", p("p12.pw"), pw)
	csFail(t, "PKCS#12", "certstore", store, "addp12", "p12b", p("signer.p12"), pw) // no password: empty

	// list
	out := csOK(t, "certstore", store, "list", pw)
	for _, want := range []string{"ID", "ca", "signer", "p12", "-enginedefault,x", "CN=verb signer"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}

	// descriptor
	out = csOK(t, "certstore", store, "descriptor", pw)
	var d struct {
		ID           string `json:"id"`
		FileName     string `json:"fileName"`
		Version      int    `json:"version"`
		Flags        *int   `json:"flags"`
		Certificates []struct {
			ID             string   `json:"id"`
			HasPrivateKey  bool     `json:"hasPrivateKey"`
			Tags           []string `json:"tags"`
			CertificatePEM string   `json:"certificatePem"`
		} `json:"certificates"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.ID == "" || d.FileName != store || d.Version != 1 || d.Flags == nil || len(d.Certificates) != 5 {
		t.Errorf("descriptor %+v", d)
	}
	if c := d.Certificates[1]; c.ID != "signer" || !c.HasPrivateKey || !slices.Equal(c.Tags, []string{"-enginedefault", "x"}) ||
		!strings.HasPrefix(c.CertificatePEM, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("descriptor element %+v", c)
	}
	if d.Certificates[0].HasPrivateKey {
		t.Error("ca has a key")
	}

	// pem: the certificate only, never a key
	out = csOK(t, "certstore", store, "pem", "signer", pw)
	certs, err := certstore.ParseCertificates([]byte(out))
	want, _ := certstore.ParseCertificates(csRead(t, p("signer.pem")))
	if err != nil || len(certs) != 1 || !certs[0].Equal(want[0]) {
		t.Errorf("pem: %v", err)
	}
	csFail(t, "not found", "certstore", store, "pem", "nope", pw)

	// show
	out = csOK(t, "certstore", store, "show", "signer", pw)
	var cd certstore.CertificateDescriptor
	if err := json.Unmarshal([]byte(out), &cd); err != nil {
		t.Fatal(err)
	}
	if cd.Subject != "CN=verb signer" || cd.Issuer != "CN=verb CA" || cd.PublicKey != "ECDSA P-256" || !cd.HasPrivateKey {
		t.Errorf("show %+v", cd)
	}

	// No private key ever leaves the store, whatever the verb.
	for _, verb := range [][]string{{"list"}, {"descriptor"}, {"pem", "signer"}, {"show", "signer"}, {"pem", "p12"}} {
		out := csOK(t, append([]string{"certstore", store}, append(verb, pw)...)...)
		if strings.Contains(out, "PRIVATE KEY") {
			t.Errorf("%v prints a private key", verb)
		}
	}

	// tagset
	csOK(t, "certstore", store, "tagset", "p12", "--tags", "a, b", pw)
	csFail(t, "needs --tags", "certstore", store, "tagset", "p12", pw)
	csFail(t, "does not apply", "certstore", store, "list", "--tags", "a", pw)
	out = csOK(t, "certstore", store, "show", "p12", pw)
	json.Unmarshal([]byte(out), &cd)
	if !slices.Equal(cd.Tags, []string{"a", "b"}) {
		t.Errorf("tags %q", cd.Tags)
	}
	csOK(t, "certstore", store, "tagset", "p12", "--tags", "", pw)

	// import from a store with another password, and with the same one
	other := p("other.ecs")
	otherHex := "0102030405"
	csOK(t, "certstore", other, "create", "--password-hex", otherHex)
	csOK(t, "certstore", other, "import", "engine", "signer", store, "--src-password-hex", csPasswordHex, "--password-hex", otherHex)
	csFail(t, "wrong password", "certstore", other, "import", "engine2", "signer", store, "--password-hex", otherHex)
	csOK(t, "certstore", store, "import", "signer2", "signer", store, "--tags", "copy", pw)
	out = csOK(t, "certstore", other, "show", "engine", "--password-hex", otherHex)
	json.Unmarshal([]byte(out), &cd)
	if !cd.HasPrivateKey || cd.Subject != "CN=verb signer" || !slices.Equal(cd.Tags, []string{"-enginedefault", "x"}) {
		t.Errorf("imported %+v", cd)
	}

	// del
	csOK(t, "certstore", store, "del", "signer2", pw)
	csFail(t, "not found", "certstore", store, "del", "signer2", pw)

	// usage errors
	csFail(t, "unknown certstore operation", "certstore", store, "frobnicate", pw)
	csFail(t, "usage: tlseal certstore FILE pem ID", "certstore", store, "pem", pw)
	csFail(t, "requires at least 2 arg", "certstore", store)
}

func csRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCertstorePasswordSources: hex flag, passphrase file, environments,
// config; a wrong, missing or conflicting password is a clear exit-2 error.
func TestCertstorePasswordSources(t *testing.T) {
	if testing.Short() {
		t.Skip("full key derivation in every command")
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "s.ecs")
	raw := []byte{0x00, 0xff, 0x0a, 0x0d, 's', 'e', 'c', 'r', 'e', 't', 0, 0}
	pwFile := filepath.Join(dir, "pw.bin")
	os.WriteFile(pwFile, raw, 0o600)
	// A binary password is hex only; a file holds a passphrase (text).
	csFail(t, "not UTF-8 text", "certstore", store, "create", "--password-file", pwFile)
	csOK(t, "certstore", store, "create", "--password-hex", csPasswordHex)
	csOK(t, "certstore", store, "list", "--password-hex", csPasswordHex)

	// A passphrase as the README says: in a file (one trailing newline, LF
	// or CRLF, is not part of it), in the environment, or as its hex.
	text := filepath.Join(dir, "text.ecs")
	phrase := "correct horse battery staple"
	for name, content := range map[string]string{"pw.txt": phrase + "\n", "pw-crlf.txt": phrase + "\r\n", "pw-bare.txt": phrase} {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)
	}
	csOK(t, "certstore", text, "create", "--password-file", filepath.Join(dir, "pw.txt"))
	csOK(t, "certstore", text, "list", "--password-file", filepath.Join(dir, "pw-crlf.txt"))
	csOK(t, "certstore", text, "list", "--password-file", filepath.Join(dir, "pw-bare.txt"))
	csOK(t, "certstore", text, "list", "--password-hex", hex.EncodeToString([]byte(phrase)))
	t.Setenv(passwordTextEnv, phrase)
	csOK(t, "certstore", text, "list")
	t.Setenv(passwordTextEnv, phrase+" ")
	csFail(t, "wrong password", "certstore", text, "list")
	t.Setenv(passwordTextEnv, "")
	os.WriteFile(filepath.Join(dir, "empty.txt"), []byte("\n"), 0o600)
	csFail(t, "the passphrase is empty", "certstore", text, "list", "--password-file", filepath.Join(dir, "empty.txt"))
	t.Setenv(passwordEnv, csPasswordHex)
	csOK(t, "certstore", store, "list")
	t.Setenv(passwordEnv, "")
	cfg := filepath.Join(dir, "tlseal.json")
	os.WriteFile(cfg, []byte(`{"certStoreFileName":"s.ecs","certStorePasswordHex":"`+csPasswordHex+`"}`), 0o600)
	csOK(t, "certstore", store, "list", "--config", cfg)

	before := csRead(t, store)
	csFail(t, "wrong password", "certstore", store, "list", "--password-hex", "00ff0a0d73656372657400") // one zero byte short
	csFail(t, "wrong password", "certstore", store, "tagset", "x", "--tags", "a", "--password-hex", "00")
	csFail(t, "no certificate store password", "certstore", store, "list")
	csFail(t, "not both", "certstore", store, "list", "--password-hex", "00", "--password-file", pwFile)
	csFail(t, "--password-hex", "certstore", store, "list", "--password-hex", "xyz")
	t.Setenv(passwordEnv, "nothex")
	csFail(t, passwordEnv, "certstore", store, "list")
	t.Setenv(passwordEnv, "")
	if !bytes.Equal(before, csRead(t, store)) {
		t.Error("the store changed")
	}
	// No error message shows the password.
	_, errs, _ := csRun(t, "certstore", store, "list", "--password-hex", "00ff")
	if strings.Contains(errs, "00ff") {
		t.Errorf("password in error output: %q", errs)
	}
}

// TestCertstoreDamagedFiles: truncated, tampered and foreign files give
// distinct errors (exit 2) and are left unchanged.
func TestCertstoreDamagedFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("full key derivation in every command")
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "s.ecs")
	pw := "--password-hex=" + csPasswordHex
	csOK(t, "certstore", store, "create", pw)
	good := csRead(t, store)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)-10], "truncated"},
		{"tampered", func() []byte { b := bytes.Clone(good); b[len(b)-40] ^= 1; return b }(), "tampered"},
		{"appended", append(bytes.Clone(good), 'x'), "tampered"},
		{"not a store", []byte("hello"), "not a tlseal certificate store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.WriteFile(store, tt.data, 0o600)
			csFail(t, tt.want, "certstore", store, "list", pw)
			csFail(t, tt.want, "certstore", store, "tagset", "x", "--tags", "a", pw)
			if !bytes.Equal(tt.data, csRead(t, store)) {
				t.Error("file changed")
			}
		})
	}
	csFail(t, "not found", "certstore", filepath.Join(dir, "missing.ecs"), "list", pw)
}

// TestPKIInitSignVerify: pki init, then seal with the tag defaults and with
// @certstore://ID references, and verify against the -cadefault anchors,
// through the resolver the sign and verify commands use.
func TestPKIInitSignVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("full key derivation in every command")
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "dev.ecs")
	pw := "--password-hex=" + csPasswordHex
	out := csOK(t, "pki", "init", "--certstore", store, "--curve", "P-384", pw)
	for _, want := range []string{"DEVELOPMENT PKI", "NOT FOR EVIDENCE", "@certstore://dev-ca", "@certstore://dev-signer", "(created)", "ECDSA P-384"} {
		if !strings.Contains(out, want) {
			t.Errorf("pki init output lacks %q:\n%s", want, out)
		}
	}
	csFail(t, "already exists", "pki", "init", "--certstore", store, pw)
	csFail(t, "--curve", "pki", "init", "--certstore", store, "--curve", "P-224", pw)
	csFail(t, "needs --certstore", "pki", "init", pw)
	out = csOK(t, "certstore", store, "list", pw)
	if !strings.Contains(out, "DEVELOPMENT CA") || !strings.Contains(out, "DEVELOPMENT signer") {
		t.Errorf("list:\n%s", out)
	}

	in := filepath.Join(dir, "event.json")
	os.WriteFile(in, []byte(`{"event":"door opened","t":1}`), 0o644)
	opts := &rootOptions{stdout: new(bytes.Buffer), stderr: new(bytes.Buffer), stdin: strings.NewReader(""),
		certstoreFile: store, passwordHex: csPasswordHex}
	cfg := filepath.Join(dir, "tlseal.json")
	os.WriteFile(cfg, []byte(`{"certStoreFileName":"dev.ecs","certStorePasswordHex":"`+csPasswordHex+
		`","security":{"certificate":"@certstore://dev-signer"},"caCertificates":["@certstore://dev-ca"]}`), 0o600)
	cfgOpts := &rootOptions{stdout: new(bytes.Buffer), stderr: new(bytes.Buffer), stdin: strings.NewReader(""), configFile: cfg}
	for _, tt := range []struct {
		name            string
		o               *rootOptions
		certRef, keyRef string
		caRefs          []string
	}{
		{"tag defaults", opts, "", "", nil},
		{"references", opts, "@certstore://dev-signer", "@certstore://dev-signer", []string{"@certstore://dev-ca"}},
		{"config", cfgOpts, "", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cert, chain, key, err := tt.o.resolveSigner(tt.certRef, tt.keyRef)
			if err != nil {
				t.Fatal(err)
			}
			signer, err := timeline.NewSigner(cert, chain, key)
			if err != nil {
				t.Fatal(err)
			}
			sealed := filepath.Join(t.TempDir(), "event.sealed.json")
			if _, err := timeline.SealFile(in, sealed, false, timeline.SealOptions{Name: "event.json", Signer: signer}); err != nil {
				t.Fatal(err)
			}
			trust, err := tt.o.loadTrust(trustFlags{ca: tt.caRefs})
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range trust.AnchorInfos() {
				if !strings.HasPrefix(a.Source, "file ") && !strings.HasPrefix(a.Source, "certstore ") {
					t.Errorf("anchor %d: source %q", i, a.Source)
				}
			}
			res, err := verify.File(sealed, trust)
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != verify.Passed {
				t.Errorf("verdict %s: %+v", res.Verdict, res.Findings)
			}
		})
	}

	// Without a store and without refs: a usage error for signing, no
	// anchors (so nothing is trusted) for verifying.
	bare := &rootOptions{stdin: strings.NewReader("")}
	if _, _, _, err := bare.resolveSigner("", ""); err == nil {
		t.Error("signer without anything")
	}
	if a, err := bare.resolveTrustAnchors(nil); err != nil || len(a) != 0 {
		t.Errorf("anchors without anything: %d %v", len(a), err)
	}
}

// TestCertstoreHelp: every operation's help has an example, reachable as
// "certstore OP --help" and "certstore FILE OP --help".
func TestCertstoreHelp(t *testing.T) {
	for _, op := range certstoreOps() {
		if op.example == "" {
			t.Errorf("%s has no example", op.name)
		}
		out := csOK(t, "certstore", "store.ecs", op.name, "--help")
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, op.example) {
			t.Errorf("certstore FILE %s --help:\n%s", op.name, out)
		}
		out = csOK(t, "certstore", op.name, "--help")
		if !strings.Contains(out, op.example) {
			t.Errorf("certstore %s --help:\n%s", op.name, out)
		}
	}
	out := csOK(t, "pki", "init", "--help")
	if !strings.Contains(out, "DEVELOPMENT") || !strings.Contains(out, "Examples:") {
		t.Errorf("pki init --help:\n%s", out)
	}
}
