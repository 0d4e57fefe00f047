package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tlseal/tlseal/certstore"
	"github.com/tlseal/tlseal/revocation"
	"github.com/tlseal/tlseal/tokenkey"
)

// passwordEnv holds the certificate store password as hex.
// The environment variables of passwords: text, or hex for binary ones.
const (
	passwordEnv     = "TLSEAL_CERTSTORE_PASSWORD_HEX"
	passwordTextEnv = "TLSEAL_CERTSTORE_PASSWORD"
	p12PasswordEnv  = "TLSEAL_P12_PASSWORD"
)

// certstoreFlags are the flags of the certstore operations. They are bound
// both on "certstore" (for the FILE-first form) and on each operation.
type certstoreFlags struct {
	cert            string
	tags            string
	srcPasswordHex  string
	p12PasswordFile string
}

// certstoreOp is one operation of "tlseal certstore FILE OP".
type certstoreOp struct {
	name, args, short, long, example string
	minArgs, maxArgs                 int      // after FILE
	flags                            []string // which certstoreFlags apply
	run                              func(o *rootOptions, f *certstoreFlags, file string, args []string) error
}

func certstoreOps() []certstoreOp {
	return []certstoreOp{
		{name: "create", short: "Create a new, empty store (never overwrites)",
			long: `Create a new, empty certificate store. The password is binary key material,
given as hex (--password-hex, TLSEAL_CERTSTORE_PASSWORD_HEX, or typed twice at a
terminal prompt) or as the raw bytes of a file (--password-file). The file is
written with mode 0600; an existing file is never overwritten.`,
			example: `  openssl rand -base64 32 > store.pw && chmod 600 store.pw
  tlseal certstore store.ecs create --password-file store.pw
  TLSEAL_CERTSTORE_PASSWORD_HEX=$(openssl rand -hex 32) tlseal certstore store.ecs create`,
			run: runCertstoreCreate},
		{name: "list", short: "List the elements: ID, private key, tags, subject, expiry",
			example: `  tlseal certstore store.ecs list --password-file store.pw`,
			run:     runCertstoreList},
		{name: "descriptor", short: "Print the store descriptor as JSON (certificates only, never keys)",
			long: `Print the store descriptor as JSON: id, fileName, version, flags and
certificates[{id, hasPrivateKey, tags, certificatePem}]. Private keys are never printed.`,
			example: `  tlseal certstore store.ecs descriptor --password-file store.pw | jq '.certificates[].id'`,
			run:     runCertstoreDescriptor},
		{name: "pem", args: "ID", short: "Print an element's certificate as PEM (never its key)",
			long: `Print the certificate of element ID as PEM. A private key is never
printed or exported: there is no way to get a key out of a store.`,
			example: `  tlseal certstore store.ecs pem dev-ca --password-file store.pw > ca.pem`,
			minArgs: 1, maxArgs: 1, run: runCertstorePEM},
		{name: "add", args: "ID CERT [KEY]", short: "Add a certificate (PEM or DER) and optionally its private key (PEM)",
			long: `Add element ID: the certificate from CERT (PEM or DER, exactly one) and, if
given, its private key from KEY (PEM: PKCS#8, SEC1 "EC PRIVATE KEY", PKCS#1).
Without KEY, a private key in the CERT file is used if there is one. The key
must match the certificate. Encrypted PEM keys are refused (decrypt them first).`,
			example: `  tlseal certstore store.ecs add engine signer.pem signer.key --tags -enginedefault
  tlseal certstore store.ecs add rootca ca.pem --tags -cadefault`,
			minArgs: 2, maxArgs: 3, flags: []string{"tags"}, run: runCertstoreAdd},
		{name: "addref", args: "ID KEYREF", short: "Add a certificate whose key stays outside the store (PKCS#11 token or external signer)",
			long: `Add element ID whose private key the store never holds: KEYREF is a PKCS#11
URI (pkcs11:token=...;object=...?module-path=...&pin-source=file:...) or an
external signer (exec:/path/to/signer). The certificate comes from --cert
(PEM or DER), or, for a PKCS#11 key, from the token when it holds one with the
key's label or id. The key is reached once now, to check that it belongs to
the certificate. Afterwards @certstore://ID and the -enginedefault tag sign
with it as with any element; "list" shows its KEY as "token".`,
			example: `  tlseal certstore store.ecs addref recorder-7 'pkcs11:token=recorder-7;object=seal-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/tlseal/hsm.pin' --cert recorder-7.pem --tags -enginedefault`,
			minArgs: 2, maxArgs: 2, flags: []string{"cert", "tags"}, run: runCertstoreAddRef},
		{name: "addp12", args: "ID FILE.p12", short: "Add a certificate and key from a PKCS#12 file",
			long: `Add element ID from a PKCS#12 file holding one certificate and its private key.
Both OpenSSL 3's default encryption (AES-256, PBKDF2) and -legacy files are read.
The PKCS#12 password comes from --p12-password-file (text, one trailing newline
removed), else $` + p12PasswordEnv + `, else a prompt when standard input is a
terminal, else it is empty. (A third argument is still read as the password,
with a warning: the argument vector is visible to every user in ps.) CA
certificates in the file are not added; add them with "add" if you need them.`,
			example: `  tlseal certstore store.ecs addp12 engine engine.p12 --p12-password-file p12.pw --tags -enginedefault
  ` + p12PasswordEnv + `="$P12_PASSWORD" tlseal certstore store.ecs addp12 engine engine.p12`,
			minArgs: 2, maxArgs: 3, flags: []string{"tags", "p12-password-file"}, run: runCertstoreAddP12},
		{name: "import", args: "ID SRCID SRCFILE", short: "Copy element SRCID of store SRCFILE into this store as ID",
			long: `Copy element SRCID (certificate, key and tags) from the store SRCFILE into this
store as ID. SRCFILE is opened with --src-password-hex, or with this store's
password if that is not given. --tags replaces the copied tags.`,
			example: `  tlseal certstore new.ecs import engine engine old.ecs --password-file new.key --src-password-hex 0a1b...`,
			minArgs: 3, maxArgs: 3, flags: []string{"tags", "src-password-hex"}, run: runCertstoreImport},
		{name: "del", args: "ID", short: "Delete an element",
			example: `  tlseal certstore store.ecs del old-engine --password-file store.pw`,
			minArgs: 1, maxArgs: 1, run: runCertstoreDel},
		{name: "show", args: "ID", short: "Print an element's certificate descriptor as JSON",
			long: `Print the certificate descriptor of element ID as JSON: subject, issuer,
serial number, validity, public key, key usages, SHA-256 fingerprint, tags and
the certificate PEM. Never the private key.`,
			example: `  tlseal certstore store.ecs show dev-signer --password-file store.pw`,
			minArgs: 1, maxArgs: 1, run: runCertstoreShow},
		{name: "addcrl", args: "ID CRLFILE", short: "Keep a CA's CRL with its element, for verifiers (tag -crl)",
			long: `Keep the certificate revocation list CRLFILE (DER or PEM, exactly one) with
element ID, whose certificate must have issued and signed it; it replaces the
CRL the element had, and the element gets the tag "-crl". verify, audit and
inspect use the CRLs of the -crl elements when no --crl is given and the trust
anchors come from the store. Refresh it before its nextUpdate: an expired CRL
makes items indeterminate (crl.expired). "addcrl ID -" removes it.`,
			example: `  tlseal certstore store.ecs addcrl dev-ca ca.crl --password-file store.pw`,
			minArgs: 2, maxArgs: 2, run: runCertstoreAddCRL},
		{name: "tagset", args: "ID --tags a,b", short: "Replace an element's tags",
			long: `Replace the tags of element ID with the comma-separated --tags list
(--tags "" removes all). "-enginedefault" marks the default signer (the first
such element), "-cadefault" the default trust anchors.`,
			example: `  tlseal certstore store.ecs tagset engine --tags -enginedefault,production`,
			minArgs: 1, maxArgs: 1, flags: []string{"tags"}, run: runCertstoreTagset},
	}
}

func newCertstoreCommand(opts *rootOptions) *cobra.Command {
	var flags certstoreFlags
	ops := certstoreOps()
	var names []string
	for _, op := range ops {
		names = append(names, op.name)
	}
	cmd := &cobra.Command{
		Use:   "certstore FILE OP [ARGS...]",
		Short: "Manage an encrypted certificate store (" + strings.Join(names, ", ") + ")",
		Long: `Manage an encrypted certificate store: certificates, their private keys and tags,
in one file encrypted with AES-256-CBC and authenticated with HMAC-SHA256 (keys
from PBKDF2-HMAC-SHA256, 600,000 iterations). Private keys go in, never out.

Operations: ` + strings.Join(names, ", ") + `. "tlseal certstore OP --help" describes
one; FILE may also follow OP ("tlseal certstore list FILE").

The password is a passphrase: --password-file FILE (text; one trailing newline
is not part of it), $TLSEAL_CERTSTORE_PASSWORD, or a prompt (not echoed; asked
twice on create) when stdin is a terminal. Binary passwords are given as hex:
--password-hex HEX or $` + passwordEnv + `.

Elements are referenced as @certstore://ID wherever tlseal takes a certificate,
key or CA. With no --cert/--key the first element tagged -enginedefault signs;
with no --ca the elements tagged -cadefault are trusted.

` + exitStatusHelp,
		Example: `  tlseal certstore store.ecs create --password-file store.pw
  tlseal certstore store.ecs add engine signer.pem signer.key --tags -enginedefault --password-file store.pw
  tlseal certstore store.ecs list --password-file store.pw
  tlseal sign --certstore store.ecs --password-file store.pw --cert @certstore://engine rec.wav -o rec.sealed.wav`,
		Args: minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, name := args[0], args[1]
			i := slices.IndexFunc(ops, func(op certstoreOp) bool { return op.name == name })
			if i < 0 {
				return usagef("unknown certstore operation %q (one of %s)", name, strings.Join(names, ", "))
			}
			return runCertstoreOp(cmd, opts, &flags, ops[i], file, args[2:])
		},
	}
	addCertstoreFlags(cmd, &flags, []string{"cert", "tags", "src-password-hex", "p12-password-file"})
	for _, op := range ops {
		sub := &cobra.Command{
			Use:     strings.TrimSpace(op.name + " FILE " + op.args),
			Short:   op.short,
			Long:    op.long,
			Example: op.example,
			Args:    minArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runCertstoreOp(cmd, opts, &flags, op, args[0], args[1:])
			},
		}
		if sub.Long == "" {
			sub.Long = op.short + "."
		}
		addCertstoreFlags(sub, &flags, op.flags)
		cmd.AddCommand(sub)
	}
	// "tlseal certstore FILE OP --help" shows the help of OP.
	defaultHelp := cmd.HelpFunc()
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		if c == cmd {
			for _, a := range args {
				if sub, _, err := cmd.Find([]string{a}); err == nil && sub != cmd {
					c = sub
					break
				}
			}
		}
		defaultHelp(c, args)
	})
	return cmd
}

func addCertstoreFlags(cmd *cobra.Command, f *certstoreFlags, which []string) {
	for _, name := range which {
		switch name {
		case "cert":
			cmd.Flags().StringVar(&f.cert, "cert", "", "certificate file (PEM or DER) of the referenced key; default: the token's")
		case "tags":
			cmd.Flags().StringVar(&f.tags, "tags", "", "comma-separated tags, e.g. -enginedefault,-cadefault")
		case "src-password-hex":
			cmd.Flags().StringVar(&f.srcPasswordHex, "src-password-hex", "", "password of the source store, as hex (default: this store's password)")
		case "p12-password-file":
			cmd.Flags().StringVar(&f.p12PasswordFile, "p12-password-file", "", "file holding the PKCS#12 password as text (or env "+p12PasswordEnv+", or a prompt)")
		}
	}
}

func runCertstoreOp(cmd *cobra.Command, o *rootOptions, f *certstoreFlags, op certstoreOp, file string, args []string) error {
	if len(args) < op.minArgs || len(args) > op.maxArgs {
		return usagef("usage: tlseal certstore FILE %s %s", op.name, op.args)
	}
	for _, name := range []string{"tags", "src-password-hex", "p12-password-file"} {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed && !slices.Contains(op.flags, name) {
			return usagef("--%s does not apply to certstore %s", name, op.name)
		}
	}
	if op.name == "tagset" && !cmd.Flags().Changed("tags") {
		return usagef("certstore tagset needs --tags (--tags \"\" removes all tags)")
	}
	if file == "" {
		return usagef("empty store file name")
	}
	return op.run(o, f, file, args)
}

// splitTags splits a --tags value; "" means no tags.
func splitTags(s string) []string {
	var tags []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

func runCertstoreCreate(o *rootOptions, _ *certstoreFlags, file string, _ []string) error {
	pw, err := o.readCertstorePassword(true)
	if err != nil {
		return err
	}
	defer clear(pw)
	s, err := certstore.Create(file, pw, certstore.CreateOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "created certificate store %s (id %s)\n", file, s.ID())
	return nil
}

// openCertstore opens a store for reading.
func (o *rootOptions) openCertstore(file string) (*certstore.Store, error) {
	pw, err := o.certstorePassword()
	if err != nil {
		return nil, err
	}
	defer clear(pw)
	return certstore.Open(file, pw)
}

// updateCertstore changes a store under its lock.
func (o *rootOptions) updateCertstore(file string, fn func(*certstore.Store) error) error {
	pw, err := o.certstorePassword()
	if err != nil {
		return err
	}
	defer clear(pw)
	return certstore.Update(file, pw, fn)
}

func runCertstoreList(o *rootOptions, _ *certstoreFlags, file string, _ []string) error {
	s, err := o.openCertstore(file)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(o.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEY\tTAGS\tSUBJECT\tNOT AFTER")
	for _, e := range s.Elements() {
		key := "-"
		switch {
		case e.Key != nil:
			key = "yes"
		case e.KeyRef != "":
			key = "token"
			if tokenkey.IsExec(e.KeyRef) {
				key = "external"
			}
		}
		tags := strings.Join(e.Tags, ",")
		if tags == "" {
			tags = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, key, tags, e.Cert.Subject, e.Cert.NotAfter.UTC().Format(time.DateOnly))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.Len() == 0 {
		fmt.Fprintf(o.stderr, "(the store %s is empty)\n", file)
	}
	return nil
}

func writeCertstoreJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func runCertstoreDescriptor(o *rootOptions, _ *certstoreFlags, file string, _ []string) error {
	s, err := o.openCertstore(file)
	if err != nil {
		return err
	}
	return writeCertstoreJSON(o.stdout, s.Descriptor())
}

func runCertstorePEM(o *rootOptions, _ *certstoreFlags, file string, args []string) error {
	s, err := o.openCertstore(file)
	if err != nil {
		return err
	}
	e, err := s.Get(args[0])
	if err != nil {
		return err
	}
	_, err = o.stdout.Write(e.CertPEM)
	return err
}

func runCertstoreShow(o *rootOptions, _ *certstoreFlags, file string, args []string) error {
	s, err := o.openCertstore(file)
	if err != nil {
		return err
	}
	e, err := s.Get(args[0])
	if err != nil {
		return err
	}
	return writeCertstoreJSON(o.stdout, e.Describe())
}

func runCertstoreAddRef(o *rootOptions, f *certstoreFlags, file string, args []string) error {
	var cert *x509.Certificate
	if f.cert != "" {
		data, err := os.ReadFile(f.cert)
		if err != nil {
			return err
		}
		certs, err := certstore.ParseCertificates(data)
		if err != nil {
			return fmt.Errorf("--cert %s: %w", f.cert, err)
		}
		if len(certs) != 1 {
			return fmt.Errorf("--cert %s holds %d certificates; give the key's own", f.cert, len(certs))
		}
		cert = certs[0]
	}
	e, err := certstore.NewRefElement(args[0], args[1], cert, splitTags(f.tags))
	if err != nil {
		return err
	}
	return o.addCertstoreElement(file, e)
}

func runCertstoreAdd(o *rootOptions, f *certstoreFlags, file string, args []string) error {
	certData, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	var keyData []byte
	if len(args) == 3 {
		if keyData, err = os.ReadFile(args[2]); err != nil {
			return err
		}
		defer clear(keyData)
	}
	e, err := certstore.NewElement(args[0], certData, keyData, splitTags(f.tags))
	if err != nil {
		return err
	}
	return o.addCertstoreElement(file, e)
}

func (o *rootOptions) addCertstoreElement(file string, e certstore.Element) error {
	if err := o.updateCertstore(file, func(s *certstore.Store) error { return s.Add(e) }); err != nil {
		return err
	}
	key := "without a private key"
	if e.Key != nil {
		key = "with its private key"
	}
	fmt.Fprintf(o.stdout, "added %s: %s, %s\n", e.ID, e.Cert.Subject, key)
	return nil
}

func runCertstoreAddP12(o *rootOptions, f *certstoreFlags, file string, args []string) error {
	p12, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	defer clear(p12)
	p12pw, err := o.p12Password(f, args)
	if err != nil {
		return err
	}
	e, cas, err := certstore.NewElementFromPKCS12(args[0], p12, p12pw, splitTags(f.tags))
	if err != nil {
		return fmt.Errorf("%s: %w", args[1], err)
	}
	if err := o.addCertstoreElement(file, e); err != nil {
		return err
	}
	if len(cas) > 0 {
		fmt.Fprintf(o.stderr, "note: %d CA certificate(s) in %s were not added (use \"add\" for them)\n", len(cas), args[1])
	}
	return nil
}

func runCertstoreImport(o *rootOptions, f *certstoreFlags, file string, args []string) error {
	id, srcID, srcFile := args[0], args[1], args[2]
	var srcPW []byte
	var err error
	if f.srcPasswordHex != "" {
		srcPW, err = certstore.PasswordFromHex(f.srcPasswordHex)
	} else {
		srcPW, err = o.certstorePassword()
	}
	if err != nil {
		return err
	}
	src, err := certstore.Open(srcFile, srcPW)
	clear(srcPW)
	if err != nil {
		return err
	}
	e, err := src.Get(srcID)
	if err != nil {
		return err
	}
	e.ID = id
	if f.tags != "" {
		e.Tags = splitTags(f.tags)
	}
	return o.addCertstoreElement(file, e)
}

func runCertstoreDel(o *rootOptions, _ *certstoreFlags, file string, args []string) error {
	if err := o.updateCertstore(file, func(s *certstore.Store) error { return s.Delete(args[0]) }); err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "deleted %s\n", args[0])
	return nil
}

func runCertstoreAddCRL(o *rootOptions, _ *certstoreFlags, file string, args []string) error {
	var der []byte
	if args[1] != "-" {
		data, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		set, err := revocation.ParseCRLs(data, args[1])
		if err != nil {
			return err
		}
		crls := set.CRLs()
		if len(crls) != 1 {
			return fmt.Errorf("%s holds %d CRLs; give one", args[1], len(crls))
		}
		der = crls[0].List.Raw
	}
	if err := o.updateCertstore(file, func(s *certstore.Store) error { return s.SetCRL(args[0], der) }); err != nil {
		return err
	}
	if der == nil {
		fmt.Fprintf(o.stdout, "removed the CRL of %s\n", args[0])
	} else {
		fmt.Fprintf(o.stdout, "kept the CRL %s with %s (tag %s)\n", args[1], args[0], certstore.TagCRL)
	}
	return nil
}

func runCertstoreTagset(o *rootOptions, f *certstoreFlags, file string, args []string) error {
	tags := splitTags(f.tags)
	if err := o.updateCertstore(file, func(s *certstore.Store) error { return s.SetTags(args[0], tags) }); err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "tags of %s: %s\n", args[0], strings.Join(tags, ","))
	return nil
}

func newPKICommand(opts *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "pki",
		Short:   "Development PKI (not for evidence)",
		Example: "  tlseal pki init --certstore dev.ecs --curve P-384",
		Args:    exactArgs(0),
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var curve, tokenURI string
	initCmd := &cobra.Command{
		Use:   "init --certstore FILE [--curve P-256|P-384|P-521]",
		Short: "Create a development CA and signing certificate in a store",
		Long: `Create a DEVELOPMENT PKI in the certificate store (created if missing): a
self-signed CA "` + certstore.DevCACommonName + `"
(ID ` + certstore.DevCAID + `, tagged -cadefault, valid 5 years) and a signing certificate
"` + certstore.DevSignerName + `" issued by it
(ID ` + certstore.DevSignerID + `, tagged -enginedefault, key usage digitalSignature, valid 2 years).
Both start one hour in the past. Afterwards "tlseal sign" and "tlseal verify"
work with --certstore alone.

This is for trying tlseal and for tests. Seals made with it say so in their
certificate subject; do not use it for real evidence.`,
		Example: `  tlseal pki init --certstore dev.ecs --password-hex $(openssl rand -hex 32 | tee dev.pw)
  openssl rand -base64 32 > dev2.pw && tlseal pki init --certstore dev2.ecs --curve P-384 --password-file dev2.pw
  tlseal pki init --certstore dev.ecs --pkcs11 'pkcs11:token=dev;object=seal-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/tlseal/dev.pin'`,
		Args: exactArgs(0),
		RunE: func(_ *cobra.Command, _ []string) error { return runPKIInit(opts, curve, tokenURI) },
	}
	initCmd.Flags().StringVar(&curve, "curve", "P-256", "key curve: P-256, P-384 or P-521")
	initCmd.Flags().StringVar(&tokenURI, "pkcs11", "", "generate the signing key inside this PKCS#11 token (an RFC 7512 URI naming a new key); it never leaves the token, its certificate is stored in the token and in the store (without a key): sign with --key URI")
	cmd.AddCommand(initCmd)
	return cmd
}

func runPKIInit(o *rootOptions, curve, tokenURI string) error {
	c, err := certstore.ParseCurve(curve)
	if err != nil {
		return usagef("--curve %q: use P-256, P-384 or P-521", curve)
	}
	if tokenURI != "" && !tokenkey.IsURI(tokenURI) {
		return usagef("--pkcs11 %q: not a pkcs11: URI", tokenURI)
	}
	cfg, err := o.certConfig()
	if err != nil {
		return err
	}
	file := o.certstoreFile
	if file == "" && cfg != nil {
		file = cfg.CertStoreFileName
	}
	if file == "" {
		return usagef("pki init needs --certstore FILE")
	}
	var tokenKey crypto.Signer
	if tokenURI != "" {
		// The key first: if the token refuses, no store is made or changed.
		if tokenKey, err = tokenkey.Generate(tokenURI, c); err != nil {
			return err
		}
	}
	created := false
	_, statErr := os.Stat(file)
	if errors.Is(statErr, os.ErrNotExist) {
		pw, err := o.readCertstorePassword(true)
		if err != nil {
			return err
		}
		_, err = certstore.Create(file, pw, certstore.CreateOptions{})
		clear(pw)
		if err != nil {
			return err
		}
		created = true
	}
	var pki certstore.DevPKI
	var defaultSigner *x509.Certificate
	err = o.updateCertstore(file, func(s *certstore.Store) error {
		var err error
		if tokenKey != nil {
			pki, err = certstore.InitDevPKIFor(s, tokenKey.Public(), time.Now())
			return err
		}
		if pki, err = certstore.InitDevPKI(s, curve, time.Now()); err != nil {
			return err
		}
		defaultSigner, _, _, err = s.Signer("")
		return err
	})
	if err != nil {
		return err
	}
	if tokenKey != nil {
		if err := tokenkey.StoreCertificate(tokenURI, pki.Signer.Cert); err != nil {
			return err
		}
	}
	w := o.stdout
	fmt.Fprintln(w, "DEVELOPMENT PKI - for trying tlseal and for tests only, NOT FOR EVIDENCE")
	if created {
		fmt.Fprintf(w, "store:   %s (created)\n", file)
	} else {
		fmt.Fprintf(w, "store:   %s\n", file)
	}
	for _, x := range []struct {
		label string
		e     certstore.Element
	}{{"CA:     ", pki.CA}, {"signer: ", pki.Signer}} {
		d := x.e.Describe()
		fmt.Fprintf(w, "%s %s%s  %s\n", x.label, certstore.RefPrefix, d.ID, d.Subject)
		fmt.Fprintf(w, "          tags %s, %s, valid %s to %s, sha256 %s\n",
			strings.Join(d.Tags, ","), d.PublicKey, d.NotBefore, d.NotAfter, d.SHA256)
	}
	if tokenKey != nil {
		fmt.Fprintf(w, "key:      in the token, %s (sign with --key and that URI; the token holds the certificate too)\n", tokenkey.Redact(tokenURI))
		return nil
	}
	if !defaultSigner.Equal(pki.Signer.Cert) {
		fmt.Fprintf(o.stderr, "warning: an earlier element tagged %s stays the default signer; name the development signer with --cert %s%s\n",
			certstore.TagEngineDefault, certstore.RefPrefix, certstore.DevSignerID)
	}
	return nil
}

// p12Password is the PKCS#12 password of addp12: --p12-password-file, the
// environment, a prompt on a terminal, or empty; the third argument only
// with a warning (visible in ps).
func (o *rootOptions) p12Password(f *certstoreFlags, args []string) (string, error) {
	switch {
	case len(args) == 3 && f.p12PasswordFile != "":
		return "", usagef("give the PKCS#12 password once: --p12-password-file or the argument, not both")
	case len(args) == 3:
		fmt.Fprintf(o.stderr, "tlseal: warning: a password on the command line is visible to every user (ps); use --p12-password-file or %s\n", p12PasswordEnv)
		return args[2], nil
	case f.p12PasswordFile != "":
		data, err := os.ReadFile(f.p12PasswordFile)
		if err != nil {
			return "", fmt.Errorf("--p12-password-file: %w", err)
		}
		defer clear(data)
		data = bytes.TrimSuffix(bytes.TrimSuffix(data, []byte("\n")), []byte("\r"))
		return string(data), nil
	}
	if env, ok := os.LookupEnv(p12PasswordEnv); ok {
		return env, nil
	}
	if tf, ok := o.stdin.(*os.File); ok && term.IsTerminal(int(tf.Fd())) {
		fmt.Fprint(o.stderr, "PKCS#12 password: ")
		line, err := term.ReadPassword(int(tf.Fd()))
		fmt.Fprintln(o.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the PKCS#12 password: %w", err)
		}
		return string(line), nil
	}
	return "", nil
}
