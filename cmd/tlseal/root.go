package main

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tlseal/tlseal/tokenkey"
)

// rootOptions holds what every command shares: the output streams (so tests
// can capture them) and the signer/trust configuration flags.
type rootOptions struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	argv           []string // the arguments as given (run), for reports

	configFile    string // --config: JSON configuration (keys.go)
	certstoreFile string // --certstore
	passwordHex   string // --password-hex
	passwordFile  string // --password-file
}

func newRootCommand(opts *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tlseal",
		Short: "Seal, archive and verify timeline evidence files",
		Long: `tlseal keeps timeline evidence trustworthy. It seals JSON event files and
RIFF/WAV recordings with ECDSA (the seal is embedded: the file stays valid JSON,
a playable WAV), and verifies seals offline years later.

` + exitStatusHelp,
		Example: `  tlseal demo                                   # the whole story on sample data
  tlseal sign --cert signer.pem --key signer.key rec.wav -o rec.sealed.wav
  tlseal verify --ca ca.pem rec.sealed.wav event.json
  tlseal extract rec.sealed.wav -o original.wav`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetOut(opts.stdout)
	cmd.SetErr(opts.stderr)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error { return opts.applyStorageConfig() }
	cmd.AddCommand(
		newSignCommand(opts),
		newVerifyCommand(opts),
		newExtractCommand(opts),
		newInspectCommand(opts),
		newDemoCommand(opts),
		newWatchCommand(opts),
		newAuditCommand(opts),
		newIngestCommand(opts),
		newProofCommand(opts),
		newTimestampCommand(opts),
		newArchiveCommand(opts),
		newCertstoreCommand(opts),
		newPKICommand(opts),
		newVersionCommand(opts),
		newManCommand(opts),
	)
	for _, c := range cmd.Commands() {
		if storeCommands[c.Name()] {
			addStoreFlags(c, opts)
		}
	}
	addBuiltinExamples(cmd)
	return cmd
}

// storeCommands are the commands that resolve keys or trust anchors (and
// their subcommands): only they take the configuration and certificate
// store flags, so that no help lists a flag its command ignores.
var storeCommands = map[string]bool{
	"sign": true, "verify": true, "inspect": true, "audit": true, "ingest": true, "watch": true, "certstore": true,
	"pki":     true, // pki init writes a store
	"archive": true, // archive create resolves the signer
}

// addStoreFlags adds --config, --certstore, --password-hex and
// --password-file to c and its subcommands.
func addStoreFlags(c *cobra.Command, opts *rootOptions) {
	pf := c.PersistentFlags()
	pf.StringVar(&opts.configFile, "config", "", "JSON configuration file (certStoreFileName, security{certificate,key}, caCertificates[], storage{s3{endpoint,region,addressing,profile}})")
	pf.StringVar(&opts.certstoreFile, "certstore", "", "encrypted certificate store file")
	pf.StringVar(&opts.passwordHex, "password-hex", "", "certificate store password as hex (or env TLSEAL_CERTSTORE_PASSWORD_HEX; a passphrase: env TLSEAL_CERTSTORE_PASSWORD)")
	pf.StringVar(&opts.passwordFile, "password-file", "", "file holding the certificate store passphrase (text; one trailing newline is not part of it)")
}

// addBuiltinExamples gives cobra's own help and completion commands an
// example too: every command's help shows one.
func addBuiltinExamples(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  tlseal help verify"
		case "completion":
			c.Example = "  source <(tlseal completion bash)\n  tlseal completion zsh > \"${fpath[1]}/_tlseal\""
			for _, sub := range c.Commands() {
				sub.Example = "  tlseal completion " + sub.Name() + " > tlseal-completion." + sub.Name()
			}
		}
	}
}

// exactArgs is cobra.ExactArgs returning a usageError (exit 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

// secretFlags are the flags whose values a report never records.
var secretFlags = []string{"password-hex", "src-password-hex", "password", "p12-password"}

// commandLine is the command line as a report records it: "tlseal" and
// the real arguments, every flag included, the values of secret flags and
// the pin-value of a PKCS#11 URI replaced by "(redacted)". Without argv (a
// test calling a runX function directly) it is fallback.
func (o *rootOptions) commandLine(fallback ...string) []string {
	if o.argv == nil {
		return fallback
	}
	out := []string{"tlseal"}
	redactNext := false
	for i, a := range o.argv {
		if redactNext {
			out, redactNext = append(out, "(redacted)"), false
			continue
		}
		if a == "--" { // the rest are arguments, not flags
			return append(out, o.argv[i:]...)
		}
		for _, f := range secretFlags {
			switch {
			case a == "--"+f:
				redactNext = true
			case strings.HasPrefix(a, "--"+f+"="):
				a = "--" + f + "=(redacted)"
			}
		}
		if i := strings.Index(a, tokenkey.Scheme); i >= 0 { // a PKCS#11 URI may carry pin-value
			a = a[:i] + tokenkey.Redact(a[i:])
		}
		out = append(out, a)
	}
	return out
}
