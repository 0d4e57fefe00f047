package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tlseal/tlseal/archive"
)

func newArchiveCommand(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "archive create|status|import|export ...",
		Short: "Create an archive on object storage, show an archive's status, copy archives between storage kinds",
		Long: `Manage evidence archives as a whole. An archive is a directory or a prefix of an
S3 bucket with Object Lock (s3://BUCKET/PREFIX): the same layout, log, checkpoints
and proofs either way, and every command that takes an archive takes both.
The S3 endpoint, region and credentials come from the environment
(AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
AWS_PROFILE), then the --config file's storage block, then the AWS shared files
(~/.aws/config: region, endpoint_url, s3 addressing_style; ~/.aws/credentials),
else the instance's role; nothing secret on the command line. docs/archive.md,
"Archives on object storage".`,
		Example: `  tlseal archive create s3://evidence/site-7 --retention 7y --mode compliance --cert signer.pem --key signer.key
  tlseal archive status s3://evidence/site-7
  tlseal archive import evidence/ s3://evidence/site-8 --retention 7y
  tlseal archive export s3://evidence/site-7 case-2041/evidence`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("tlseal archive needs a subcommand: create, status, import or export")
		},
	}
	cmd.AddCommand(newArchiveCreateCommand(root), newArchiveStatusCommand(root), newArchiveImportCommand(root), newArchiveExportCommand(root))
	return cmd
}

// retentionFlags are --retention and --mode.
type retentionFlags struct{ period, mode string }

func (r *retentionFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.period, "retention", "", "how long every object is locked: <n>y or <n>d, e.g. 7y (required)")
	cmd.Flags().StringVar(&r.mode, "mode", "compliance", "Object Lock mode: compliance (nobody can shorten or remove it) or governance (users with s3:BypassGovernanceRetention can)")
}

func (r *retentionFlags) parse() (*archive.Retention, error) {
	if r.period == "" {
		return nil, usagef("--retention PERIOD is required (e.g. --retention 7y)")
	}
	ret, err := archive.ParseRetention(r.period, r.mode)
	if err != nil {
		return nil, &usageError{err}
	}
	return ret, nil
}

func requireS3(loc, what string) error {
	if !archive.IsURL(loc) {
		return usagef("%s must be s3://BUCKET/PREFIX (got %q)", what, loc)
	}
	return archive.CheckLocation(loc)
}

func newArchiveCreateCommand(root *rootOptions) *cobra.Command {
	var signer signerFlags
	var ret retentionFlags
	var chainID, origin string
	cmd := &cobra.Command{
		Use:   "create s3://BUCKET/PREFIX --retention PERIOD [--mode compliance|governance]",
		Short: "Create an archive in an S3 bucket with Object Lock",
		Long: `Create an empty archive under a prefix of an S3 bucket. The bucket must have
Object Lock enabled (it is refused otherwise); every object the archive writes
from then on (sealed files, log segments, checkpoints) is locked in the given
mode until its creation plus PERIOD. The signer's key is the archive's first
checkpoint key, as tlseal ingest makes it on disk. Then tlseal ingest --archive
s3://BUCKET/PREFIX appends to it.`,
		Example: `  tlseal archive create s3://evidence/site-7 --retention 7y --mode compliance --cert signer.pem --key signer.key
  tlseal ingest --archive s3://evidence/site-7 --cert signer.pem --key signer.key rec.wav`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc := args[0]
			if err := requireS3(loc, "the archive"); err != nil {
				return err
			}
			r, err := ret.parse()
			if err != nil {
				return err
			}
			s, err := root.loadSigner(signer)
			if err != nil {
				return err
			}
			w, err := archive.Create(loc, archive.Options{ChainID: chainID, Origin: origin, Signer: s, Retention: r, Logger: cliLogger(root.stderr)})
			if err != nil {
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
			fmt.Fprintf(root.stdout, "created archive %s (chain %s, origin %s), every object retained %s\n", loc, w.ChainID(), w.Origin(), r)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&signer.cert, "cert", "", certFlagHelp)
	f.StringVar(&signer.key, "key", "", keyFlagHelp)
	f.StringVar(&chainID, "chain-id", "", "chain id of the archive (default: a random UUID)")
	f.StringVar(&origin, "origin", "", "checkpoint origin (default: tlseal.local/<chain id>)")
	ret.register(cmd)
	return cmd
}

func newArchiveStatusCommand(root *rootOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status ARCHIVE",
		Short: "Show an archive's size, last checkpoint, retention and lock state",
		Long: `Show what an archive holds (entries, bytes of sealed files), its last verified
checkpoint and, on object storage, its retention policy, whether the bucket has
Object Lock, and which writer holds the archive's lease. It only reads (no
sealed file): use tlseal audit to verify.`,
		Example: `  tlseal archive status s3://evidence/site-7
  tlseal archive status --json evidence/`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkArchiveDir(args[0]); err != nil {
				return err
			}
			s, err := archive.ArchiveStatus(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(root.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			fmt.Fprint(root.stdout, s.Text())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func newArchiveImportCommand(root *rootOptions) *cobra.Command {
	var ret retentionFlags
	cmd := &cobra.Command{
		Use:   "import DIR s3://BUCKET/PREFIX --retention PERIOD [--mode compliance|governance]",
		Short: "Copy an archive from a directory into an S3 bucket with Object Lock",
		Long: `Copy the archive in DIR to a prefix of an S3 bucket with Object Lock, byte for
byte (log files as segments), every object locked in the given mode for PERIOD,
then check the copy (archive consistency, every sealed file) and report. DIR's
writer lock is held meanwhile. The prefix must not hold an archive; an
interrupted import can be run again (objects already copied are kept). Exit 1
when the copy's check finds a problem.`,
		Example: `  tlseal archive import evidence/ s3://evidence/site-7 --retention 7y`,
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst := args[0], args[1]
			if err := requireS3(dst, "the destination"); err != nil {
				return err
			}
			if archive.IsURL(src) {
				return usagef("the source of an import is a directory (tlseal archive export copies from object storage)")
			}
			r, err := ret.parse()
			if err != nil {
				return err
			}
			if err := checkArchiveDir(src); err != nil {
				return err
			}
			stats, err := archive.Import(src, dst, r)
			if err != nil {
				return err
			}
			fmt.Fprintf(root.stdout, "imported %s into %s: %s, %d objects, %d bytes, every object retained %s\n", src, dst, entries(stats.Entries), stats.Objects, stats.Bytes, r)
			return checkCopy(cmd.Context(), root, dst)
		},
	}
	ret.register(cmd)
	return cmd
}

func newArchiveExportCommand(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export s3://BUCKET/PREFIX DIR",
		Short: "Copy an archive from object storage into a directory",
		Long: `Copy the archive at s3://BUCKET/PREFIX into DIR (which must not exist, or be
empty): the same layout and bytes as if it had been written on disk, log
segments joined into the log files. The copy is built beside DIR and renamed
into place when complete, then checked (archive consistency, every sealed
file); tlseal audit of DIR reports what tlseal audit of the bucket reports
(the storage's retention aside). Exit 1 when the check finds a problem.`,
		Example: `  tlseal archive export s3://evidence/site-7 case-2041/evidence`,
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst := args[0], args[1]
			if err := requireS3(src, "the source"); err != nil {
				return err
			}
			if archive.IsURL(dst) {
				return usagef("the destination of an export is a directory")
			}
			if err := checkArchiveDir(src); err != nil {
				return err
			}
			stats, err := archive.Export(src, dst)
			if err != nil {
				return err
			}
			fmt.Fprintf(root.stdout, "exported %s to %s: %s, %d objects, %d bytes\n", src, dst, entries(stats.Entries), stats.Objects, stats.Bytes)
			return checkCopy(cmd.Context(), root, dst)
		},
	}
	return cmd
}

// checkCopy checks a copied archive with archive.Check and prints what it
// found; a problem is exit 1.
func checkCopy(ctx context.Context, root *rootOptions, dir string) error {
	res, err := archive.Check(dir, archive.CheckOptions{})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	bad := 0
	for _, p := range res.Problems {
		if p.Code == archive.CodeEntryNotCovered || p.Code == archive.CodeQuarantined || p.Code == archive.CodeKeysNotPinned {
			continue
		}
		bad++
		fmt.Fprintf(root.stdout, "problem: %s\n", p)
	}
	if bad > 0 {
		fmt.Fprintf(root.stdout, "the copy at %s has %d problems (tlseal audit %s for the full report)\n", dir, bad, dir)
		return &verdictError{code: exitFailed}
	}
	fmt.Fprintf(root.stdout, "checked the copy: %s, every sealed file, no problem\n", entries(res.Size))
	return nil
}
