package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/certstore"
	"github.com/tlseal/tlseal/report"
	"github.com/tlseal/tlseal/verify"
)

type verifyOptions struct {
	trust  trustFlags
	report reportFlags
	jobs   int
	strict bool
	failOn failOnFlag
	// --proof: an inclusion proof to check offline against the one file.
	proof           string
	checkpointCerts []string
}

func newVerifyCommand(root *rootOptions) *cobra.Command {
	var opts verifyOptions
	cmd := &cobra.Command{
		Use:   "verify PATH...",
		Short: "Verify sealed files (directories are walked)",
		Long: `Verify sealed timeline files: the seal is present, well-formed, last and unique;
the reconstructed original has the sealed size and SHA-256; the signature
verifies; the signer chains to a --ca trust anchor (intermediates from the seal),
was valid when the seal was made and may sign (key usage digitalSignature).

Each file gets a verdict: passed, failed or indeterminate. Without --ca no file
can pass: an embedded certificate proves nothing on its own (cert.untrusted).
A file that is no timeline file at all (notes.txt in a case folder: neither
RIFF nor a JSON object) is reported as skipped and does not decide the run;
--strict fails it instead. A timeline file without a seal always fails.
--fail-on warning exits 1 when any finding is a warning (a recording sealed
cut short, a high-S signature, an entry no checkpoint covers yet).
A directory that is an evidence archive gets the archive audit (as tlseal audit).
Finding codes are listed in docs/findings.md. Reports: text on standard output
by default; --format json|html|junit (repeatable) with -o FILE per format or
--report-dir DIR.

` + exitStatusHelp,
		Example: `  tlseal verify --ca ca.pem event.json rec.wav
  tlseal verify --ca ca.pem --proof rec.tlog-proof rec.wav
  tlseal verify --ca ca.pem --format json -o report.json recordings/
  tlseal verify --ca ca.pem --case 2026-117 --examiner "J. Doe" \
      --format json --format html --report-dir case-2026-117/ evidence/`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), root, &opts, args)
		},
	}
	f := cmd.Flags()
	opts.trust.register(f)
	f.IntVar(&opts.jobs, "jobs", 0, "parallel workers (default: one per CPU)")
	f.BoolVar(&opts.strict, "strict", false, "a file that is not a timeline file fails instead of being skipped")
	f.StringVar(&opts.proof, "proof", "", "check the one SEALED file's inclusion proof (from tlseal proof) offline: leaf, audit path, checkpoint signature and signer")
	f.StringArrayVar(&opts.checkpointCerts, "checkpoint-cert", nil, "with --proof: PEM certificate of the archive's checkpoint key (ARCHIVE/keys/*.pem) when it is not the file's signer (after a key rotation; repeatable)")
	opts.failOn.register(f)
	opts.report.register(f)
	return cmd
}

func runVerify(ctx context.Context, root *rootOptions, opts *verifyOptions, args []string) error {
	targets, err := opts.report.targets()
	if err != nil {
		return err
	}
	if err := opts.failOn.check(); err != nil {
		return err
	}
	trust, err := root.loadTrust(opts.trust)
	if err != nil {
		return err
	}
	// An archive among the arguments gets the archive audit (tlseal audit
	// with default options); everything else is verified file by file.
	var archives, loose []string
	for _, a := range args {
		if archive.IsArchive(a) {
			archives = append(archives, a)
		} else {
			loose = append(loose, a)
		}
	}
	if len(archives) > 1 {
		return usagef("one archive at a time (%s): run tlseal audit on each", strings.Join(archives, ", "))
	}
	paths, err := verify.ExpandPaths(loose)
	if err != nil {
		return err
	}
	if len(archives) == 0 {
		relaxGC(len(paths))
	}
	rep := report.New(root.commandLine(append([]string{"tlseal", "verify"}, args...)...), trust, time.Now())
	var untrustedArchive atomic.Bool // an archive item's signer is not trusted (for the hint)
	rep.Case = opts.report.caseOrNil()
	if opts.proof != "" {
		if len(args) != 1 || len(archives) > 0 {
			return usagef("--proof checks one sealed file against its inclusion proof: tlseal verify --proof PROOF SEALED")
		}
		return verifyProof(root, opts, trust, rep, args[0], targets)
	}
	if len(archives) == 1 {

		res, err := verify.Archive(ctx, archives[0], trust, verify.ArchiveOptions{Jobs: opts.jobs, Spool: true,
			OnItem: func(it *verify.ItemResult) {
				if untrusted(it.Findings) {
					untrustedArchive.Store(true)
				}
			}})
		if err != nil {
			return err
		}
		defer res.Close()
		rep.AddArchive(res)
	}
	untrustedSeen := rep.Archive != nil && (untrustedArchive.Load() || untrusted(rep.Archive.Findings))
	var opErr error
	err = verify.Files(ctx, paths, trust, opts.jobs, func(o verify.Outcome) {
		if o.Err != nil {
			fmt.Fprintf(root.stderr, "tlseal: verify %s: %v\n", paths[o.Index], o.Err)
			opErr = o.Err
			return
		}
		// The report keeps every item; what it does not show goes (as in
		// an archive audit), so that the heap the collector walks stays
		// small.
		o.Result.Opened, o.Result.Cert, o.Result.Wave = nil, nil, nil
		if !opts.strict {
			verify.Skip(o.Result)
		}
		untrustedSeen = untrustedSeen || untrusted(o.Result.Findings)
		rep.Add(o.Result)
	})
	if err != nil {
		return err
	}
	rep.Finish(time.Now())
	if err := opts.report.emit(root, targets, rep); err != nil {
		return err
	}
	if opErr != nil {
		return &verdictError{code: exitError}
	}
	return opts.failOn.verdict(root, rep, trustHint(trust, rep.Verdict, untrustedSeen))
}

// verdictExit maps a verdict to the exit status.
func verdictExit(v verify.Verdict) int {
	switch v {
	case verify.Passed:
		return exitPassed
	case verify.Failed:
		return exitFailed
	}
	return exitIndeterminate
}

// verifyProof judges one sealed file and its inclusion proof, offline.
func verifyProof(root *rootOptions, opts *verifyOptions, trust *verify.Trust, rep *report.Report, sealed string, targets []reportTarget) error {
	proof, err := os.ReadFile(opts.proof)
	if err != nil {
		return fmt.Errorf("--proof: %w", err)
	}
	var certs []*x509.Certificate
	for _, path := range opts.checkpointCerts {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("--checkpoint-cert: %w", err)
		}
		cs, err := certstore.ParseCertificates(data)
		if err != nil {
			return fmt.Errorf("--checkpoint-cert %s: %w", path, err)
		}
		certs = append(certs, cs...)
	}
	it, err := verify.File(sealed, trust)
	if err != nil {
		return err
	}
	verify.CheckProof(it, proof, certs, trust)
	it.Opened, it.Cert, it.Wave = nil, nil, nil
	rep.Add(it)
	rep.Finish(time.Now())
	if err := opts.report.emit(root, targets, rep); err != nil {
		return err
	}
	return opts.failOn.verdict(root, rep, trustHint(trust, rep.Verdict, untrusted(it.Findings)))
}

// relaxGC lets the heap grow to 5 times its live size (GOGC=400, unless
// GOGC is set) when verifying up to relaxGCFiles files. Verifying a file
// makes about 10 KiB of short-lived garbage and keeps a small result
// (the live heap of 5,000 files is about 3 MiB), so with the default the
// collector ran some 20 cycles for 5,000 files, about 5% of the CPU time;
// at 400, 3 cycles, for about 10 MiB more memory. Larger runs keep the
// default: their results alone are a heap that 5 times would be too much.
func relaxGC(files int) {
	if files <= relaxGCFiles && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

const relaxGCFiles = 20000
