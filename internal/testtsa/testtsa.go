// Package testtsa runs a real RFC 3161 Time Stamping Authority for tests:
// OpenSSL's (openssl ts -reply) behind a loopback HTTP server, with a
// throw-away CA and TSA certificate made by openssl req and openssl ca.
// Options make bad TSAs: certificates without the critical
// id-kp-timeStamping usage, expired certificates, RSA-PSS signatures,
// refusals, wrong answers, errors and slowness. Test support only.
//
// openssl ts -reply signs only with a certificate fit for time stamping.
// For the TSAs with an unfit certificate, and for RSA-PSS (which openssl ts
// cannot make), openssl ts -reply makes the TSTInfo with a fit certificate
// of the same key and name, and openssl cms -sign signs that TSTInfo again
// with the TSA's certificate; such tokens have no ESS signing-certificate
// attribute.
package testtsa

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// EKU is the extended key usage of the TSA certificate.
type EKU int

const (
	EKUCritical    EKU = iota // critical, id-kp-timeStamping alone (RFC 3161 §2.3)
	EKUNonCritical            // id-kp-timeStamping, not critical
	EKUNone                   // no extended key usage extension
	EKUExtra                  // critical, id-kp-timeStamping and id-kp-codeSigning
)

// Fault makes the TSA answer wrongly over HTTP. Token is not affected.
type Fault int

const (
	FaultNone        Fault = iota
	FaultHTTP500           // HTTP 500
	FaultBadRequest        // HTTP 400
	FaultGarbage           // bytes that are no TimeStampResp
	FaultReject            // openssl's own rejection: the TSA accepts SHA-512 imprints only
	FaultNoToken           // status granted, no token
	FaultNonce             // a token for the request with another nonce
	FaultImprint           // a token for the request with another digest
	FaultContentType       // a good answer as text/plain
	FaultHuge              // 2 MiB with the right Content-Type
)

// Options shape a TSA. The zero value is a good TSA with an ECDSA P-256
// key.
type Options struct {
	RSA bool // an RSA-2048 key
	PSS bool // RSA-PSS signatures (implies RSA)
	EKU EKU
	// NotBefore and NotAfter bound the TSA certificate; defaults: an hour
	// ago, a year from now. The CA is valid from 2000 to 2099.
	NotBefore, NotAfter time.Time
	NoChain             bool // embed the TSA certificate only, not the CA's
	ESSCertIDv1         bool // an ESS signing-certificate (SHA-1) attribute instead of signing-certificate-v2
	Fault               Fault
	Delay               time.Duration // wait before each answer
	FailFirst           int           // answer the first FailFirst requests with HTTP 503
}

// TSA is a running test TSA. Its server stops when the test ends.
type TSA struct {
	URL       string // where to post requests
	Dir       string // the CA, the TSA key and certificate and openssl.cnf
	CACertPEM []byte
	CertPEM   []byte // the TSA certificate

	opts     Options
	openssl  string
	tsSigner string // the certificate openssl ts -reply signs with
	resign   bool   // openssl cms -sign signs the TSTInfo again with tsa.pem
	mu       sync.Mutex
	requests atomic.Int64
}

// Start makes the TSA's certificates and starts its server on 127.0.0.1.
// Without openssl on PATH the test is skipped.
func Start(t testing.TB, o Options) *TSA {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed: the tests against a real TSA need it")
	}
	if o.PSS {
		o.RSA = true
	}
	a := &TSA{Dir: t.TempDir(), opts: o, openssl: bin, tsSigner: "tsa.pem", resign: o.PSS || o.EKU != EKUCritical}
	if err := a.setup(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(a.serveHTTP))
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

const config = `# Written by internal/testtsa for one test.
[ ca ]
default_ca = testca

[ testca ]
database = index.txt
new_certs_dir = newcerts
serial = ca.srl
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no

[ anything ]
organizationName = optional
commonName = supplied

[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[ tsa_critical ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ tsa_noncritical ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ tsa_none ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ tsa_extra ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping,codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial = tsaserial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.1
other_policies = 1.3.6.1.4.1.99999.1.2
digests = %s
accuracy = secs:1, millisecs:500, microsecs:100
clock_precision_digits = 3
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = %s
`

func (a *TSA) setup() error {
	o := a.opts
	digests, ess := "sha1, sha256, sha384, sha512", "sha256"
	if o.Fault == FaultReject {
		digests = "sha512"
	}
	if o.ESSCertIDv1 {
		ess = "sha1"
	}
	files := map[string]string{
		"openssl.cnf": fmt.Sprintf(config, digests, ess),
		"index.txt":   "",
		"ca.srl":      "1000\n",
		"tsaserial":   "01\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(a.Dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	if err := os.Mkdir(filepath.Join(a.Dir, "newcerts"), 0o700); err != nil {
		return err
	}
	keyAlg := []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}
	if o.RSA {
		keyAlg = []string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"}
	}
	notBefore, notAfter := o.NotBefore, o.NotAfter
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = time.Now().AddDate(1, 0, 0)
	}
	ext := map[EKU]string{EKUCritical: "tsa_critical", EKUNonCritical: "tsa_noncritical", EKUNone: "tsa_none", EKUExtra: "tsa_extra"}[o.EKU]
	steps := [][]string{
		{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key"},
		{"req", "-new", "-config", "openssl.cnf", "-key", "ca.key", "-subj", "/O=tlseal tests/CN=tlseal test TSA CA", "-out", "ca.csr"},
		{"ca", "-batch", "-config", "openssl.cnf", "-selfsign", "-keyfile", "ca.key", "-in", "ca.csr",
			"-startdate", "20000101000000Z", "-enddate", "20991231235959Z", "-extensions", "ca_ext", "-notext", "-out", "ca.pem"},
		append([]string{"genpkey", "-out", "tsa.key"}, keyAlg...),
		{"req", "-new", "-config", "openssl.cnf", "-key", "tsa.key", "-subj", "/O=tlseal tests/CN=tlseal test TSA", "-out", "tsa.csr"},
		{"ca", "-batch", "-config", "openssl.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "tsa.csr",
			"-startdate", asn1Time(notBefore), "-enddate", asn1Time(notAfter), "-extensions", ext, "-notext", "-out", "tsa.pem"},
	}
	if a.resign {
		// The certificate openssl ts -reply accepts, for the same key.
		a.tsSigner = "ts-signer.pem"
		steps = append(steps, []string{"ca", "-batch", "-config", "openssl.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "tsa.csr",
			"-startdate", asn1Time(notBefore), "-enddate", asn1Time(notAfter), "-extensions", "tsa_critical", "-notext", "-out", a.tsSigner})
	}
	for _, args := range steps {
		if _, err := a.run(args...); err != nil {
			return err
		}
	}
	var err error
	if a.CACertPEM, err = os.ReadFile(filepath.Join(a.Dir, "ca.pem")); err != nil {
		return err
	}
	a.CertPEM, err = os.ReadFile(filepath.Join(a.Dir, "tsa.pem"))
	return err
}

func asn1Time(t time.Time) string { return t.UTC().Format("20060102150405Z") }

// run runs openssl in the TSA's directory.
func (a *TSA) run(args ...string) ([]byte, error) {
	cmd := exec.Command(a.openssl, args...)
	cmd.Dir = a.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

// CAFile is the path of the CA certificate (PEM), for openssl -CAfile.
func (a *TSA) CAFile() string { return filepath.Join(a.Dir, "ca.pem") }

// CACert returns the CA certificate.
func (a *TSA) CACert() *x509.Certificate { return parseCert(a.CACertPEM) }

// Cert returns the TSA certificate.
func (a *TSA) Cert() *x509.Certificate { return parseCert(a.CertPEM) }

// CAPool returns a pool holding the CA certificate: the TSA's anchor.
func (a *TSA) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.CACert())
	return p
}

// Key returns the TSA's private key.
func (a *TSA) Key() crypto.Signer {
	b, err := os.ReadFile(filepath.Join(a.Dir, "tsa.key"))
	if err != nil {
		panic(err)
	}
	block, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		panic(err)
	}
	return k.(crypto.Signer)
}

func parseCert(b []byte) *x509.Certificate {
	block, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		panic(err)
	}
	return c
}

// Requests returns how many HTTP requests the TSA has received.
func (a *TSA) Requests() int { return int(a.requests.Load()) }

// Token returns a token over data made by OpenSSL alone: openssl ts
// -query with the hash named (sha1, sha256, sha512, ...) and the TSA's
// reply, without HTTP and faults.
func (a *TSA) Token(t testing.TB, data []byte, hash string) []byte {
	t.Helper()
	a.mu.Lock()
	err := os.WriteFile(filepath.Join(a.Dir, "data.bin"), data, 0o600)
	if err == nil {
		_, err = a.run("ts", "-query", "-data", "data.bin", "-"+hash, "-cert", "-out", "token-query.tsq")
	}
	var query []byte
	if err == nil {
		query, err = os.ReadFile(filepath.Join(a.Dir, "token-query.tsq"))
	}
	a.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.reply(query)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenOf(resp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// OpenSSLVerify runs openssl ts -verify -token_in -in token -data data
// -CAfile on the TSA's CA. It reports whether openssl said
// "Verification: OK", and what it said.
func (a *TSA) OpenSSLVerify(t testing.TB, token, data []byte) (bool, string) {
	t.Helper()
	dir := t.TempDir()
	tok, dat := filepath.Join(dir, "token.der"), filepath.Join(dir, "data.bin")
	if err := os.WriteFile(tok, token, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dat, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(a.openssl, "ts", "-verify", "-token_in", "-in", tok, "-data", dat, "-CAfile", a.CAFile()).CombinedOutput()
	return err == nil && strings.Contains(string(out), "Verification: OK"), string(out)
}

type response struct {
	Status asn1.RawValue
	Token  asn1.RawValue `asn1:"optional"`
}

func tokenOf(resp []byte) ([]byte, error) {
	var r response
	if rest, err := asn1.Unmarshal(resp, &r); err != nil || len(rest) > 0 || len(r.Token.FullBytes) == 0 {
		return nil, fmt.Errorf("testtsa: the reply holds no token (%v)", err)
	}
	return r.Token.FullBytes, nil
}

// reply answers a DER TimeStampReq with a DER TimeStampResp.
func (a *TSA) reply(query []byte) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := os.WriteFile(filepath.Join(a.Dir, "query.tsq"), query, 0o600); err != nil {
		return nil, err
	}
	args := []string{"ts", "-reply", "-config", "openssl.cnf", "-queryfile", "query.tsq", "-inkey", "tsa.key", "-signer", a.tsSigner, "-out", "reply.tsr"}
	if !a.opts.NoChain {
		args = append(args, "-chain", "ca.pem")
	}
	if _, err := a.run(args...); err != nil {
		return nil, err
	}
	resp, err := os.ReadFile(filepath.Join(a.Dir, "reply.tsr"))
	if err != nil || !a.resign {
		return resp, err
	}
	tok, err := tokenOf(resp)
	if err != nil {
		return resp, nil // a refusal: nothing to sign again
	}
	if err := os.WriteFile(filepath.Join(a.Dir, "ts-token.der"), tok, 0o600); err != nil {
		return nil, err
	}
	if _, err := a.run("cms", "-verify", "-noverify", "-inform", "DER", "-in", "ts-token.der", "-out", "tstinfo.der"); err != nil {
		return nil, err
	}
	args = []string{"cms", "-sign", "-binary", "-nodetach", "-nosmimecap", "-md", "sha256", "-outform", "DER",
		"-econtent_type", "1.2.840.113549.1.9.16.1.4", "-signer", "tsa.pem", "-inkey", "tsa.key", "-in", "tstinfo.der", "-out", "cms-token.der"}
	if a.opts.PSS {
		args = append(args, "-keyopt", "rsa_padding_mode:pss")
	}
	if !a.opts.NoChain {
		args = append(args, "-certfile", "ca.pem")
	}
	if _, err := a.run(args...); err != nil {
		return nil, err
	}
	tok, err = os.ReadFile(filepath.Join(a.Dir, "cms-token.der"))
	if err != nil {
		return nil, err
	}
	var granted struct{ Status int }
	return asn1.Marshal(response{Status: rawOf(granted), Token: asn1.RawValue{FullBytes: tok}})
}

func rawOf(v any) asn1.RawValue {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return asn1.RawValue{FullBytes: b}
}

// timeStampReq is RFC 3161's TimeStampReq, for the faults that change a
// request before the TSA answers it.
type timeStampReq struct {
	Version        int
	MessageImprint struct {
		Algorithm     asn1.RawValue
		HashedMessage []byte
	}
	ReqPolicy  asn1.ObjectIdentifier `asn1:"optional"`
	Nonce      *big.Int              `asn1:"optional"`
	CertReq    bool                  `asn1:"optional"`
	Extensions asn1.RawValue         `asn1:"optional,tag:0"`
}

func alter(query []byte, f Fault) ([]byte, error) {
	var req timeStampReq
	if rest, err := asn1.Unmarshal(query, &req); err != nil || len(rest) > 0 {
		return nil, errors.New("testtsa: the request is not a TimeStampReq")
	}
	switch f {
	case FaultNonce:
		if req.Nonce == nil {
			req.Nonce = big.NewInt(0)
		}
		req.Nonce = new(big.Int).Add(req.Nonce, big.NewInt(1))
	case FaultImprint:
		req.MessageImprint.HashedMessage[0] ^= 0xff
	}
	return asn1.Marshal(req)
}

func (a *TSA) serveHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.requests.Add(1)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method != http.MethodPost || mt != "application/timestamp-query" {
		http.Error(w, "RFC 3161 §3.4: POST application/timestamp-query", http.StatusUnsupportedMediaType)
		return
	}
	query, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return
	}
	// After the body is read the server notices a client that gives up.
	if d := a.opts.Delay; d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if int(n) <= a.opts.FailFirst {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	reply := func(b []byte) {
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(b)
	}
	switch a.opts.Fault {
	case FaultHTTP500:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case FaultBadRequest:
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	case FaultGarbage:
		reply([]byte("this is not a TimeStampResp\n"))
		return
	case FaultNoToken:
		reply(must(asn1.Marshal(response{Status: rawOf(struct{ Status int }{0})})))
		return
	case FaultHuge:
		reply(make([]byte, 2<<20))
		return
	case FaultNonce, FaultImprint:
		if query, err = alter(query, a.opts.Fault); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	resp, err := a.reply(query)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if a.opts.Fault == FaultContentType {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(resp)
		return
	}
	reply(resp)
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
