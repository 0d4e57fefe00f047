package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/tsa"
	"github.com/tlseal/tlseal/watch"
)

type signOptions struct {
	signer  signerFlags
	output  string
	inPlace bool
	outDir  string
	name    string
	force   bool
	tsa     tsaFlags
}

// tsaFlags choose the time-stamping authority: of per-seal tokens (sign,
// and ingest/watch with --tsa-per-file) and of checkpoint tokens
// (ingest/watch).
type tsaFlags struct {
	url     string
	timeout time.Duration
	retries int
	perFile bool // ingest/watch: per-seal tokens too
}

// registerArchive registers the flags of ingest and watch: --tsa stamps
// the archive's checkpoints, --tsa-per-file each seal too.
func (t *tsaFlags) registerArchive(f *pflag.FlagSet) {
	t.register(f)
	f.Lookup("tsa").Usage = "RFC 3161 time-stamping authority URL: every checkpoint of the archive gets a token (one request per checkpoint), which gives each entry it includes a trusted time; see --tsa-per-file"
	f.BoolVar(&t.perFile, "tsa-per-file", false, "with --tsa, also a token over each seal's signature (seal format v2; one request per file)")
}

// checkpointStamper returns the archive.Options.Timestamper of the flags,
// or nil without --tsa.
func (t *tsaFlags) checkpointStamper() (archive.Timestamper, error) {
	if t.url == "" {
		if t.perFile {
			return nil, usagef("--tsa-per-file needs --tsa URL")
		}
		return nil, nil
	}
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, digest []byte) ([]byte, error) {
		tok, err := c.Stamp(ctx, digest)
		if err != nil {
			return nil, err
		}
		return tok.Raw, nil
	}, nil
}

func (t *tsaFlags) client() (*tsa.Client, error) {
	if u, err := url.Parse(t.url); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, usagef("--tsa %q: not an http(s) URL", t.url)
	}
	return &tsa.Client{URL: t.url, Timeout: t.timeout, Retries: t.retries}, nil
}

func (t *tsaFlags) register(f *pflag.FlagSet) {
	f.StringVar(&t.url, "tsa", "", "RFC 3161 time-stamping authority URL: each seal gets a token over its signature (seal format v2, a trusted time that outlives the signer certificate)")
	f.DurationVar(&t.timeout, "tsa-timeout", tsa.DefaultTimeout, "time limit of each request to the TSA")
	f.IntVar(&t.retries, "tsa-retries", 2, "retries (with backoff) after a TSA request fails with a network error, a timeout or an HTTP 5xx")
}

// stamper returns the timeline.SealOptions.Timestamp of the flags, or nil
// without --tsa.
func (t *tsaFlags) stamper(ctx context.Context) (func(sig []byte) ([]byte, error), error) {
	if t.url == "" {
		return nil, nil
	}
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	return func(sig []byte) ([]byte, error) {
		sum := sha256.Sum256(sig)
		tok, err := c.Stamp(ctx, sum[:])
		if err != nil {
			return nil, err
		}
		return tok.Raw, nil
	}, nil
}

func newSignCommand(root *rootOptions) *cobra.Command {
	var opts signOptions
	cmd := &cobra.Command{
		Use:   "sign IN -o OUT | --in-place IN... | --out-dir DIR IN...",
		Short: "Seal standalone timeline files (JSON events, RIFF/WAV recordings)",
		Long: `Seal timeline files with ECDSA. The seal (signing certificate, digest of the
original bytes, time, signature) is embedded: a "seal" member in a JSON object,
a "seal" chunk in a RIFF file. The result stays valid JSON / a playable WAV.

The original is read once; the output is written to a temporary file, fsynced
and renamed into place, so a crash never leaves a half-written file. Existing
outputs are not overwritten without --force.

With --tsa URL each seal also carries an RFC 3161 timestamp token over its
signature (seal format v2): verify then judges the signer certificate at the
TSA's time (--tsa-ca), so the seal stays valid after the certificate expires
or is revoked later. A TSA that cannot be reached fails that file (exit 2),
nothing written.`,
		Example: `  tlseal sign --cert signer.pem --key signer.key rec.wav -o rec.sealed.wav
  tlseal sign --cert signer.pem --key signer.key --in-place events/*.json
  tlseal sign --cert signer.pem --key signer.key --out-dir sealed/ rec1.wav rec2.wav
  tlseal sign --cert signer.pem --key signer.key --tsa http://tsa.example/tsr rec.wav -o rec.sealed.wav`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSign(cmd.Context(), root, &opts, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.signer.cert, "cert", "", certFlagHelp)
	f.StringVar(&opts.signer.key, "key", "", keyFlagHelp)
	f.StringVarP(&opts.output, "output", "o", "", "sealed output file (one input)")
	f.BoolVar(&opts.inPlace, "in-place", false, "replace each input by its sealed version (atomically)")
	f.StringVar(&opts.outDir, "out-dir", "", "write each sealed file into DIR under its base name")
	f.StringVar(&opts.name, "name", "", "name recorded in the seal (default: the input's base name; one input)")
	f.BoolVar(&opts.force, "force", false, "overwrite existing output files")
	opts.tsa.register(f)
	return cmd
}

func runSign(ctx context.Context, root *rootOptions, opts *signOptions, inputs []string) error {
	modes := 0
	for _, set := range []bool{opts.output != "", opts.inPlace, opts.outDir != ""} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		return usagef("choose exactly one of -o OUT, --in-place or --out-dir DIR")
	}
	if (opts.output != "" || opts.name != "") && len(inputs) != 1 {
		return usagef("-o and --name take exactly one input (got %d)", len(inputs))
	}
	stamp, err := opts.tsa.stamper(ctx)
	if err != nil {
		return err
	}
	signer, err := root.loadSigner(opts.signer)
	if err != nil {
		return err
	}
	if opts.outDir != "" {
		if err := os.MkdirAll(opts.outDir, 0o755); err != nil {
			return err
		}
	}
	var failed int
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		out, overwrite := opts.output, opts.force
		switch {
		case opts.inPlace:
			out, overwrite = in, true
		case opts.outDir != "":
			out = filepath.Join(opts.outDir, filepath.Base(in))
		}
		name := opts.name
		if name == "" {
			name = filepath.Base(in)
		}
		incomplete := incompleteDetail(in)
		res, err := timeline.SealFile(in, out, overwrite, timeline.SealOptions{Name: name, Signer: signer, Timestamp: stamp})
		if err != nil {
			failed++
			fmt.Fprintf(root.stderr, "tlseal: sign %s: %v\n", in, err)
			continue
		}
		if incomplete != "" {
			fmt.Fprintf(root.stderr, "tlseal: warning: sign %s: not structurally complete (%s): sealed as it is, byte for byte; a player may play the seal chunk as sound, and verify reports the original's damage as a warning\n", in, incomplete)
		}
		stamped := ""
		if res.Envelope.TST != "" {
			stamped = ", timestamped"
		}
		fmt.Fprintf(root.stdout, "sealed %s -> %s (%s, %d bytes, sha256 %s, %s%s)\n",
			in, out, res.Envelope.Kind, res.Size, res.Envelope.SHA256, res.Envelope.Alg, stamped)
	}
	if failed > 0 {
		return &verdictError{code: exitError}
	}
	return nil
}

// incompleteDetail says why a file about to be sealed is not structurally
// complete (a recording cut short: RIFF sizes that are not final, a JSON
// object not closed), or "" — the watcher's own completeness check, so
// that sign warns where the watcher records watch.incomplete. A file that
// cannot be read is left to the sealer to report.
func incompleteDetail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	c, err := watch.CheckComplete(f, st.Size())
	if err != nil || c.Status != watch.Incomplete {
		return ""
	}
	return c.Detail
}
