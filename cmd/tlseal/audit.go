package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/report"
	"github.com/tlseal/tlseal/verify"
)

type auditOptions struct {
	trust         trustFlags
	witness       string
	updateWitness bool
	jobs          int
	filesFrom     string
	allowMissing  bool
	failOn        failOnFlag
	shard         string
	quiet         bool
	report        reportFlags
}

func newAuditCommand(root *rootOptions) *cobra.Command {
	var opts auditOptions
	cmd := &cobra.Command{
		Use:   "audit ARCHIVE",
		Short: "Audit a whole evidence archive (batch job) and write reports",
		Long: `Audit an evidence archive: the checkpoint's signature and signer; the Merkle log
recomputed and equal to the checkpoint; with --witness, consistency with a
checkpoint saved by an earlier audit (a truncated or rewritten log is caught);
the chain links between seals; every entry against its sealed file (present,
envelope equal to the log's leaf, content digest, signature, signer chain at
signedAt, cached per certificate); files no entry lists.

Files are checked by --jobs workers (default: one per CPU), streaming, with a
progress line on a terminal's standard error (not with --quiet or when it is
not a terminal). Large archives can be split: --shard i/n audits a
deterministic part, and 'tlseal audit merge' combines the shard reports into
the report a single run would have written.

` + exitStatusHelp,
		Example: `  tlseal audit --ca ca.pem evidence/
  tlseal audit --ca ca.pem --witness last.checkpoint --update-witness \
      --case 2026-117 --format json --format html --report-dir audit-$(date +%F)/ evidence/
  tlseal audit --ca ca.pem --shard 0/4 --format json=shard0.json evidence/`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAudit(cmd.Context(), root, &opts, args[0])
		},
	}
	f := cmd.Flags()
	opts.trust.register(f)
	f.StringVar(&opts.witness, "witness", "", "checkpoint saved by an earlier audit: today's log must extend it")
	f.BoolVar(&opts.updateWitness, "update-witness", false, "after a clean audit, store today's checkpoint in the --witness file")
	f.IntVar(&opts.jobs, "jobs", 0, "parallel workers (default: one per CPU)")
	f.StringVar(&opts.filesFrom, "files-from", "", "audit only the files named in FILE (one archive or source name per line; - for standard input); a name that matches no entry, or an empty list, is an error")
	f.BoolVar(&opts.allowMissing, "allow-missing", false, "with --files-from: names that match no entry are not an error")
	f.StringVar(&opts.shard, "shard", "", "audit shard I of N (I/N, 0-based): entries whose index mod N is I")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "no progress line")
	opts.failOn.register(f)
	opts.report.register(f)
	cmd.AddCommand(newAuditMergeCommand(root))
	return cmd
}

func parseShard(s string) (verify.Shard, error) {
	if s == "" {
		return verify.Shard{I: 0, N: 1}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return verify.Shard{}, usagef("--shard wants I/N with 0 <= I < N, e.g. 0/4 (got %q)", s)
	}
	return verify.Shard{I: i, N: n}, nil
}

// checkArchiveDir says what is wrong with an archive argument, before any
// work: a path that does not exist is not "not an archive".
func checkArchiveDir(dir string) error {
	if err := archive.CheckLocation(dir); err != nil {
		return err
	}
	if archive.IsArchive(dir) {
		return nil
	}
	if archive.IsURL(dir) {
		_, err := archive.ReadMetadata(dir) // the typed error: not an archive, unreachable, refused
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("archive %s: %w", dir, err)
	}
	_, err := archive.ReadMetadata(dir) // the typed error: not an archive, with its hint
	return err
}

// readNames reads the --files-from list (archive.ReadNameList).
func readNames(root *rootOptions, path string) ([]string, error) {
	var r io.Reader = root.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--files-from: %w", err)
		}
		defer f.Close()
		r = f
	}
	return archive.ReadNameList(r)
}

func runAudit(ctx context.Context, root *rootOptions, opts *auditOptions, dir string) error {
	targets, err := opts.report.targets()
	if err != nil {
		return err
	}
	shard, err := parseShard(opts.shard)
	if err != nil {
		return err
	}
	if err := opts.failOn.check(); err != nil {
		return err
	}
	if opts.updateWitness && opts.witness == "" {
		return usagef("--update-witness needs --witness FILE")
	}
	if err := checkArchiveDir(dir); err != nil {
		return err
	}
	trust, err := root.loadTrust(opts.trust)
	if err != nil {
		return err
	}
	// Items go to a temporary file as they are judged, and the reports are
	// written from it: memory does not grow with the archive.
	aopts := verify.ArchiveOptions{Jobs: opts.jobs, Shard: shard, Spool: true}
	if opts.filesFrom != "" {
		if aopts.Names, err = readNames(root, opts.filesFrom); err != nil {
			return err
		}
		aopts.AllowMissingNames = opts.allowMissing
	}
	if opts.witness != "" {
		if aopts.Witness, err = verify.ReadWitness(opts.witness, opts.updateWitness); err != nil {
			return err
		}
		if aopts.Witness == nil {
			fmt.Fprintf(root.stderr, "no witness yet at %s: this audit will create it if it passes\n", opts.witness)
		}
	}
	var untrustedSeen atomic.Bool // for the hint: a signer outside the anchors
	aopts.OnItem = func(it *verify.ItemResult) {
		if untrusted(it.Findings) {
			untrustedSeen.Store(true)
		}
	}
	boundMemory()
	started := time.Now()
	stop := startProgress(root, opts.quiet, dir, &aopts)
	res, err := verify.Archive(ctx, dir, trust, aopts)
	stop()
	if err != nil {
		return err
	}
	defer res.Close()
	rep := report.New(root.commandLine(append([]string{"tlseal", "audit"}, auditArgs(opts, dir)...)...), trust, started)
	rep.Case = opts.report.caseOrNil()
	rep.AddArchive(res)
	rep.Finish(time.Now())
	if err := opts.report.emit(root, targets, rep); err != nil {
		return err
	}
	if opts.updateWitness {
		updated, err := verify.UpdateWitness(opts.witness, res, rep.Verdict)
		switch {
		case err != nil:
			return err
		case updated:
			fmt.Fprintf(root.stderr, "witness %s updated: checkpoint size %d\n", opts.witness, res.Checkpoint.Size)
		default:
			fmt.Fprintf(root.stderr, "witness %s not updated: the audit did not pass\n", opts.witness)
		}
	}
	return opts.failOn.verdict(root, rep, trustHint(trust, rep.Verdict, untrustedSeen.Load() || untrusted(res.Findings)))
}

// auditArgs is the command line as a report records it (the flags that
// shape the result, not the output ones).
func auditArgs(opts *auditOptions, dir string) []string {
	a := opts.trust.args()
	if opts.witness != "" {
		a = append(a, "--witness", opts.witness)
	}
	if opts.filesFrom != "" {
		a = append(a, "--files-from", opts.filesFrom)
	}
	if opts.allowMissing {
		a = append(a, "--allow-missing")
	}
	if opts.failOn.level != "" {
		a = append(a, "--fail-on", opts.failOn.level)
	}
	if opts.shard != "" {
		a = append(a, "--shard", opts.shard)
	}
	return append(a, dir)
}

// startProgress shows files, bytes, rate and ETA on a terminal's standard
// error, once a second; the returned function ends it.
func startProgress(root *rootOptions, quiet bool, dir string, aopts *verify.ArchiveOptions) func() {
	f, ok := root.stderr.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	var total int64
	if r, err := archive.OpenReader(dir); err == nil {
		total = r.Size()
		r.Close()
	}
	if aopts.Shard.N > 1 {
		total /= int64(aopts.Shard.N)
	}
	var files, bytes, firstAt atomic.Int64
	prev := aopts.OnItem
	start := time.Now()
	aopts.OnItem = func(it *verify.ItemResult) {
		if files.Add(1) == 1 {
			firstAt.Store(int64(time.Since(start)))
		}
		bytes.Add(it.Size)
		if prev != nil {
			prev(it)
		}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(f, "\r\033[K")
				return
			case <-t.C:
				n, b := files.Load(), bytes.Load()
				el := time.Since(start)
				working := el - time.Duration(firstAt.Load())
				fmt.Fprintf(f, "\r\033[Kaudit %s: %d/%d files, %.1f MB, %.1f MB/s, ETA %s", dir, n, total, float64(b)/1e6, float64(b)/1e6/el.Seconds(), eta(total, n, b, working))
			}
		}
	}()
	return func() { close(done); <-finished }
}

// eta estimates the time left of an audit from what is done so far: n of
// total files, b bytes, in working time (since the first file was judged:
// reading the log first is not file work). The bytes left are estimated
// from the mean size so far, at the byte rate so far, so that a few large
// recordings among many events do not make the estimate swing. "?" until
// there is enough to go by (a second of work and 1% of the files, or two
// seconds).
func eta(total, n, b int64, working time.Duration) string {
	if n <= 0 || total <= n || b <= 0 || working < time.Second || (n*100 < total && working < 2*time.Second) {
		return "?"
	}
	left := float64(total-n) * float64(b) / float64(n) // bytes
	rate := float64(b) / working.Seconds()             // bytes/s
	return time.Duration(left / rate * float64(time.Second)).Round(time.Second).String()
}

type auditMergeOptions struct {
	report reportFlags
}

func newAuditMergeCommand(root *rootOptions) *cobra.Command {
	var opts auditMergeOptions
	cmd := &cobra.Command{
		Use:   "merge REPORT.json...",
		Short: "Combine the JSON reports of audit shards into one report",
		Long: `Combine the JSON reports written by 'tlseal audit --shard i/n' for every shard
into the report a single audit would have written (items in log order, counts
and verdict recomputed). The shards must be of the same archive, checkpoint and
trust anchors; overlapping shards are refused.

` + exitStatusHelp,
		Example: `  tlseal audit merge --format json=audit.json --format html=audit.html shard-*.json`,
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAuditMerge(root, &opts, args)
		},
	}
	opts.report.register(cmd.Flags())
	return cmd
}

func runAuditMerge(root *rootOptions, opts *auditMergeOptions, paths []string) error {
	targets, err := opts.report.targets()
	if err != nil {
		return err
	}
	// The shard reports are read as streams (again by each --format), not
	// held in memory.
	rep, err := report.MergeFiles(root.commandLine(append([]string{"tlseal", "audit", "merge"}, paths...)...), paths, time.Now())
	if err != nil {
		return err
	}
	if c := opts.report.caseOrNil(); c != nil {
		rep.Case = c
	}
	if err := opts.report.emit(root, targets, rep); err != nil {
		return err
	}
	return &verdictError{code: verdictExit(rep.Verdict)}
}

// auditMemoryLimit is the Go heap's soft limit during an audit, unless
// GOMEMLIMIT says otherwise: the audit's live memory is about 75 bytes an
// entry (docs/performance.md), and the limit keeps the collector from
// letting garbage double that, so that an audit of a million entries stays
// within a small container.
const auditMemoryLimit = 96 << 20

func boundMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(auditMemoryLimit)
	}
}
