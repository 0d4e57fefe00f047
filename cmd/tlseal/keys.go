package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/spf13/pflag"
	"github.com/tlseal/tlseal/certstore"
	"github.com/tlseal/tlseal/revocation"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/verify"
)

// This file is where every command gets its signer and its trust anchors:
// from --cert/--key/--ca (each "@certstore://ID", a PEM file, or empty),
// then --config, then the certificate store's tag defaults.

// signerFlags are the --cert/--key flags of commands that seal.
type signerFlags struct {
	cert, key string
	// flags names the two flags in messages (default --cert and --key).
	flags [2]string
}

// rotateFromFlags name the archive's previous checkpoint key, which signs
// the rotation to a new signer (ingest, watch).
func (s *signerFlags) registerRotateFrom(f *pflag.FlagSet) {
	s.flags = [2]string{"--rotate-from-cert", "--rotate-from-key"}
	f.StringVar(&s.cert, "rotate-from-cert", "", "when the signer's key is new to the archive: the previous signer's certificate (@certstore://ID or PEM), whose key signs the rotation (docs/archive.md, Checkpoint keys)")
	f.StringVar(&s.key, "rotate-from-key", "", "the previous signer's private key (default: with --rotate-from-cert)")
}

// loadPreviousSigner resolves --rotate-from-cert/--rotate-from-key, or
// returns nil when they are not given.
func (o *rootOptions) loadPreviousSigner(f signerFlags) (*timeline.Signer, error) {
	if f.cert == "" && f.key == "" {
		return nil, nil
	}
	if f.cert == "" {
		return nil, usagef("--rotate-from-key needs --rotate-from-cert")
	}
	s, err := o.loadSigner(f)
	if err != nil {
		return nil, fmt.Errorf("--rotate-from-cert: %w", err)
	}
	return s, nil
}

const (
	certFlagHelp = "signing certificate: @certstore://ID or PEM file (leaf first, then intermediates); default: the token's certificate when --key is a pkcs11: URI, else the store's -enginedefault element"
	keyFlagHelp  = "its private key: @certstore://ID, PEM file (PKCS#8 or SEC1), a key in a token, pkcs11:token=LABEL;object=LABEL?module-path=LIB&pin-source=file:PINFILE (RFC 7512), or an external signer program, exec:/path/to/signer (docs/operations.md); default: with the certificate"
	caFlagHelp   = "trust anchor: @certstore://ID or PEM file of CA certificates (repeatable); default: the store's -cadefault elements"
)

// loadSigner resolves --cert and --key into a signer.
func (o *rootOptions) loadSigner(f signerFlags) (*timeline.Signer, error) {
	cert, chain, key, err := o.resolveSignerAs(f.flags, f.cert, f.key)
	if err != nil {
		return nil, err
	}
	s, err := timeline.NewSigner(cert, chain, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmpOr(f.cert, "signer"), err)
	}
	return s, nil
}

// trustFlags are the trust policy's flags, the same wherever seals are
// judged (verify, audit, inspect).
type trustFlags struct {
	ca        []string
	signerEKU []string
	tsaCA     []string
	crl       []string
}

func (t *trustFlags) register(f *pflag.FlagSet) {
	f.StringArrayVar(&t.ca, "ca", nil, caFlagHelp)
	f.StringArrayVar(&t.signerEKU, "signer-eku", nil, "an extended key usage OID (dotted) that makes a signer certificate acceptable besides documentSigning and anyExtendedKeyUsage (repeatable; see docs/findings.md, EKU policy)")
	f.StringArrayVar(&t.tsaCA, "tsa-ca", nil, "TSA anchor for timestamp tokens (seal format v2): @certstore://ID or PEM file of CA certificates (repeatable); default: the -tsadefault elements of the store when the trust anchors come from it, else none (tokens are then untrusted)")
	f.StringArrayVar(&t.crl, "crl", nil, "certificate revocation list, DER or PEM, checked offline against its issuer (repeatable); default: the CRLs of the -crl elements of the store when the trust anchors come from it; without any, revocation is not checked (docs/findings.md, validity decisions)")
}

// args are the flags as a report records them.
func (t *trustFlags) args() []string {
	var a []string
	for _, ca := range t.ca {
		a = append(a, "--ca", ca)
	}
	for _, e := range t.signerEKU {
		a = append(a, "--signer-eku", e)
	}
	for _, c := range t.tsaCA {
		a = append(a, "--tsa-ca", c)
	}
	for _, c := range t.crl {
		a = append(a, "--crl", c)
	}
	return a
}

// loadTrust resolves the flags into a trust policy.
func (o *rootOptions) loadTrust(t trustFlags) (*verify.Trust, error) {
	var ekus []asn1.ObjectIdentifier
	for _, s := range t.signerEKU {
		oid, err := parseOID(s)
		if err != nil {
			return nil, usagef("--signer-eku %q: %v", s, err)
		}
		ekus = append(ekus, oid)
	}
	r, cfg, err := o.certResolver()
	if err != nil {
		return nil, err
	}
	anchors, err := resolveTrustAnchors(r, cfg, t.ca)
	if err != nil {
		return nil, err
	}
	certs := make([]*x509.Certificate, len(anchors))
	sources := make([]string, len(anchors))
	for i, a := range anchors {
		certs[i], sources[i] = a.Cert, a.Source
	}
	trust := verify.NewTrust(certs)
	trust.Sources, trust.SignerEKUs = sources, ekus
	tsaAnchors, err := r.TSAAnchorSources(t.tsaCA)
	if err != nil {
		return nil, err
	}
	for _, a := range tsaAnchors {
		trust.TSAAnchors = append(trust.TSAAnchors, a.Cert)
		trust.TSASources = append(trust.TSASources, a.Source)
	}
	if len(t.crl) > 0 {
		if trust.CRLs, err = revocation.Load(t.crl...); err != nil {
			return nil, err
		}
	} else if kept := r.DefaultCRLs(); len(kept) > 0 {
		// The store's -crl elements, when the anchors come from it.
		trust.CRLs = &revocation.Set{}
		for _, c := range kept {
			set, err := revocation.ParseCRLs(c.DER, c.Source)
			if err != nil {
				return nil, err
			}
			trust.CRLs.Merge(set)
		}
	}
	return trust, nil
}

// parseOID parses a dotted object identifier such as 1.3.6.1.5.5.7.3.3.
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, errors.New("not a dotted OID")
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p != strconv.Itoa(n) {
			return nil, errors.New("not a dotted OID")
		}
		oid[i] = n
	}
	return oid, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// certConfig loads --config, or returns nil if there is none.
func (o *rootOptions) certConfig() (*certstore.Config, error) {
	if o.configFile == "" {
		return nil, nil
	}
	return certstore.LoadConfig(o.configFile)
}

// certstorePassword returns the store password from, in order:
// --password-hex, --password-file (a passphrase as text), $TLSEAL_CERTSTORE_PASSWORD
// (text), $TLSEAL_CERTSTORE_PASSWORD_HEX, certStorePasswordHex in --config,
// or a prompt (a passphrase, not echoed) when stdin is a terminal. The
// caller should clear the result when done.
func (o *rootOptions) certstorePassword() ([]byte, error) {
	return o.readCertstorePassword(false)
}

// readCertstorePassword is certstorePassword; with confirm, a prompted
// password is asked twice (for new stores).
func (o *rootOptions) readCertstorePassword(confirm bool) ([]byte, error) {
	switch {
	case o.passwordHex != "" && o.passwordFile != "":
		return nil, usagef("give --password-hex or --password-file, not both")
	case o.passwordHex != "":
		pw, err := certstore.PasswordFromHex(o.passwordHex)
		if err != nil {
			return nil, usagef("--password-hex: %v", err)
		}
		return pw, nil
	case o.passwordFile != "":
		data, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
		defer clear(data)
		pw, err := passphrase(data)
		if err != nil {
			return nil, usagef("--password-file %s: %v", o.passwordFile, err)
		}
		return pw, nil
	}
	if env := os.Getenv(passwordTextEnv); env != "" {
		pw, err := passphrase([]byte(env))
		if err != nil {
			return nil, usagef("%s: %v", passwordTextEnv, err)
		}
		return pw, nil
	}
	if env := os.Getenv(passwordEnv); env != "" {
		pw, err := certstore.PasswordFromHex(env)
		if err != nil {
			return nil, usagef("%s: %v", passwordEnv, err)
		}
		return pw, nil
	}
	cfg, err := o.certConfig()
	if err != nil {
		return nil, err
	}
	if cfg != nil && cfg.CertStorePasswordHex != "" {
		return certstore.PasswordFromHex(cfg.CertStorePasswordHex)
	}
	f, ok := o.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, usagef("no certificate store password: use --password-file, %s, --password-hex or %s (stdin is not a terminal to prompt on)", passwordTextEnv, passwordEnv)
	}
	pw, err := o.promptPassword(f, "Certificate store passphrase: ")
	if err != nil || !confirm {
		return pw, err
	}
	again, err := o.promptPassword(f, "Repeat the passphrase: ")
	defer clear(again)
	if err != nil {
		clear(pw)
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		clear(pw)
		return nil, errors.New("the passwords do not match")
	}
	return pw, nil
}

func (o *rootOptions) promptPassword(f *os.File, prompt string) ([]byte, error) {
	fmt.Fprint(o.stderr, prompt)
	line, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(o.stderr)
	defer clear(line)
	if err != nil {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	pw, err := passphrase(line)
	if err != nil {
		return nil, fmt.Errorf("the passphrase: %w", err)
	}
	return pw, nil
}

// passphrase is a password given as text: UTF-8, one trailing newline
// (LF or CRLF, as an editor or echo leaves it) removed, not empty. The
// store's key is derived from exactly these bytes. The result is a copy.
func passphrase(text []byte) ([]byte, error) {
	t := bytes.TrimSuffix(text, []byte("\n"))
	t = bytes.TrimSuffix(t, []byte("\r"))
	if len(t) == 0 {
		return nil, errors.New("the passphrase is empty")
	}
	if !utf8.Valid(t) {
		return nil, errors.New("the passphrase is not UTF-8 text (for a binary password use --password-hex)")
	}
	return bytes.Clone(t), nil
}

// certResolver returns a resolver for --cert/--key/--ca references, with
// the store from --certstore or certStoreFileName in --config, and the
// password (asked only if the store is needed) from certstorePassword.
func (o *rootOptions) certResolver() (*certstore.Resolver, *certstore.Config, error) {
	cfg, err := o.certConfig()
	if err != nil {
		return nil, nil, err
	}
	r := &certstore.Resolver{StoreFile: o.certstoreFile, Password: o.certstorePassword}
	if r.StoreFile == "" && cfg != nil {
		r.StoreFile = cfg.CertStoreFileName
	}
	return r, cfg, nil
}

// resolveSigner resolves --cert and --key (each "@certstore://ID", a PEM
// file or empty). When both are empty, security.certificate/key of --config
// apply, and then the store's first element tagged -enginedefault. It
// returns the certificate, its intermediates and the key (ECDSA P-256,
// P-384 or P-521, checked against the certificate).
func (o *rootOptions) resolveSigner(certRef, keyRef string) (*x509.Certificate, []*x509.Certificate, crypto.Signer, error) {
	return o.resolveSignerAs([2]string{}, certRef, keyRef)
}

// resolveSignerAs is resolveSigner for the flags named flags (what the
// command calls its --cert and --key), for its messages.
func (o *rootOptions) resolveSignerAs(flags [2]string, certRef, keyRef string) (*x509.Certificate, []*x509.Certificate, crypto.Signer, error) {
	if flags[0] == "" {
		flags = [2]string{"--cert", "--key"}
	}
	r, cfg, err := o.certResolver()
	if err != nil {
		return nil, nil, nil, err
	}
	if certRef == "" && keyRef == "" && cfg != nil {
		certRef, keyRef = cfg.Security.Certificate, cfg.Security.Key
	}
	if certRef == "" && keyRef == "" && r.StoreFile == "" {
		return nil, nil, nil, usagef("a signer is needed: %s and %s (PEM files or %sID), or --certstore FILE with an element tagged %s",
			flags[0], flags[1], certstore.RefPrefix, certstore.TagEngineDefault)
	}
	cert, chain, key, err := r.Signer(certRef, keyRef)
	if certstore.ReasonOf(err) == certstore.ReasonInvalidArgument {
		return nil, nil, nil, &usageError{err}
	}
	return cert, chain, key, err
}

// resolveTrustAnchors resolves --ca references (each "@certstore://ID" or a
// PEM file with one or more certificates). With none, caCertificates of
// --config apply, and then the store's elements tagged -cadefault. With no
// references and no store at all it returns no anchors and no error:
// nothing is trusted, so signatures are at best indeterminate.
func (o *rootOptions) resolveTrustAnchors(caRefs []string) ([]certstore.Anchor, error) {
	r, cfg, err := o.certResolver()
	if err != nil {
		return nil, err
	}
	return resolveTrustAnchors(r, cfg, caRefs)
}

func resolveTrustAnchors(r *certstore.Resolver, cfg *certstore.Config, caRefs []string) ([]certstore.Anchor, error) {
	if len(caRefs) == 0 && cfg != nil {
		caRefs = cfg.CACertificates
	}
	if len(caRefs) == 0 && r.StoreFile == "" {
		return nil, nil
	}
	anchors, err := r.TrustAnchorSources(caRefs)
	if certstore.ReasonOf(err) == certstore.ReasonInvalidArgument {
		return nil, &usageError{err}
	}
	return anchors, err
}
