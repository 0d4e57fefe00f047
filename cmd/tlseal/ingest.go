package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/tlseal/tlseal/archive"
)

type ingestOptions struct {
	signer     signerFlags
	rotateFrom signerFlags
	archive    string
	chainID    string
	origin     string
	name       string
	tsa        tsaFlags
}

func newIngestCommand(root *rootOptions) *cobra.Command {
	var opts ingestOptions
	cmd := &cobra.Command{
		Use:   "ingest --archive DIR FILE|DIR...",
		Short: "Seal files and append them to an evidence archive",
		Long: `Seal timeline files and append them to an evidence archive, without the daemon
(the watcher uses the same path). Each file is sealed with its place in the
archive's chain of evidence (chain id, seq, hash of the previous seal), written
durably under DIR/files/ and appended to the archive's Merkle log; a signed
checkpoint of the log is written at the end.

A FILE is archived under its base name, the files of a DIR under their paths
relative to it. A name already in the archive gets a new version
(events/e1.json, then events/e1.v2.json, ...): nothing is ever overwritten.
The archive is created when DIR does not exist or is empty (--chain-id and
--origin then name it). One writer at a time: a second one gets an error.
The archive's checkpoint keys are pinned: a signer whose key is new to the
archive needs --rotate-from-cert/--rotate-from-key naming a key it accepts,
which signs the rotation (once; later runs need no rotation flags).
With --tsa URL every checkpoint gets an RFC 3161 token from that
time-stamping authority (kept in DIR/checkpoints/), which gives each entry
it includes a trusted time; --tsa-per-file adds a token to each seal as
tlseal sign --tsa does (a TSA failure then fails that file). A checkpoint
whose TSA request failed is kept without a token: tlseal timestamp adds it
later.
Layout, log and recovery rules: docs/archive.md.`,
		Example: `  tlseal ingest --archive evidence/ --cert signer.pem --key signer.key rec.wav event.json
  tlseal ingest --archive evidence/ --cert signer.pem --key signer.key recorder/
  tlseal ingest --archive evidence/ --cert signer.pem --key signer.key --name unit7/rec.wav rec.wav
  tlseal ingest --archive evidence/ --cert signer.pem --key signer.key --tsa http://tsa.example/ --tsa-per-file rec.wav
  tlseal ingest --archive evidence/ --cert new.pem --key new.key --rotate-from-cert old.pem --rotate-from-key old.key rec.wav`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIngest(cmd.Context(), root, &opts, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.archive, "archive", "", "archive directory (created when missing or empty)")
	f.StringVar(&opts.signer.cert, "cert", "", certFlagHelp)
	f.StringVar(&opts.signer.key, "key", "", keyFlagHelp)
	f.StringVar(&opts.chainID, "chain-id", "", "chain id of a new archive (default: a random UUID)")
	f.StringVar(&opts.origin, "origin", "", "checkpoint origin of a new archive (default: tlseal.local/<chain id>)")
	f.StringVar(&opts.name, "name", "", "source name recorded for the one FILE (default: its base name)")
	opts.rotateFrom.registerRotateFrom(f)
	opts.tsa.registerArchive(f)
	return cmd
}

func runIngest(ctx context.Context, root *rootOptions, opts *ingestOptions, args []string) error {
	if opts.archive == "" {
		return usagef("--archive DIR is required")
	}
	sources, err := archive.Sources(args)
	if err != nil {
		return err
	}
	if opts.name != "" {
		if len(sources) != 1 {
			return usagef("--name takes exactly one FILE (got %d files)", len(sources))
		}
		sources[0].Name = opts.name
	}
	signer, err := root.loadSigner(opts.signer)
	if err != nil {
		return err
	}
	prev, err := root.loadPreviousSigner(opts.rotateFrom)
	if err != nil {
		return err
	}
	aopts := archive.Options{
		ChainID: opts.chainID, Origin: opts.origin, Signer: signer, PreviousSigner: prev, Logger: cliLogger(root.stderr),
	}
	if aopts.Timestamper, err = opts.tsa.checkpointStamper(); err != nil {
		return err
	}
	var unstamped []int64 // checkpoints whose TSA request failed
	var mu sync.Mutex
	aopts.OnTimestamp = func(size int64, err error) {
		if err != nil {
			mu.Lock()
			unstamped = append(unstamped, size)
			mu.Unlock()
		}
	}
	if opts.tsa.perFile {
		if aopts.SealTimestamp, err = opts.tsa.stamper(ctx); err != nil {
			return err
		}
	}
	w, created, err := archive.OpenOrCreate(opts.archive, aopts)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(root.stdout, "created archive %s (chain %s, origin %s)\n", opts.archive, w.ChainID(), w.Origin())
	}
	failed := 0
	for _, s := range sources {
		if err := ctx.Err(); err != nil {
			w.Close()
			return err
		}
		e, err := w.Ingest(s.Path, s.Name)
		if err != nil {
			failed++
			fmt.Fprintf(root.stderr, "tlseal: ingest %s: %v\n", s.Path, err)
			if archive.ReasonOf(err) == archive.ReasonClosed {
				break
			}
			continue
		}
		fmt.Fprintf(root.stdout, "ingested %s -> files/%s (seq %d, %s, sha256 %s)\n",
			s.Path, e.ArchiveName, e.Seq, e.Envelope.Kind, e.Envelope.SHA256)
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := printCheckpointSummary(root.stdout, opts.archive); err != nil {
		return err
	}
	mu.Lock()
	for _, size := range unstamped {
		fmt.Fprintf(root.stderr, "tlseal: warning: the checkpoint of %s has no timestamp token (the TSA failed); add it later: tlseal timestamp %s --tsa URL\n", entries(size), opts.archive)
	}
	mu.Unlock()
	if failed > 0 {
		return &verdictError{code: exitError}
	}
	return nil
}

// printCheckpointSummary prints the archive's latest checkpoint.
func printCheckpointSummary(out io.Writer, dir string) error {
	r, err := archive.OpenReader(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	cp, _, err := r.Checkpoint()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "checkpoint: %s, root %s (%s)\n", entries(cp.Size), base64.StdEncoding.EncodeToString(cp.Root[:]), archiveFile(dir, "checkpoint"))
	return nil
}

// archiveFile names a file of an archive: a path in a directory, a URL on
// object storage.
func archiveFile(dir, name string) string {
	if archive.IsURL(dir) {
		return strings.TrimSuffix(dir, "/") + "/" + name
	}
	return filepath.Join(dir, filepath.FromSlash(name))
}

// cliLogger shows the archive's recovery messages on standard error.
func cliLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// printArchiveSummary prints an archive's signed checkpoint and the
// inclusion proof of one of its files (the demo's view of an archive).
func printArchiveSummary(out io.Writer, dir, name string) error {
	r, err := archive.OpenReader(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	cp, _, err := r.Checkpoint()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "archive %s: %s; signed checkpoint:\n%s\n", dir, entries(cp.Size), indent(string(cp.Note)))
	e, err := r.Lookup(name)
	if err != nil {
		return err
	}
	p, err := r.Prove(e)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "inclusion proof of %s (C2SP tlog-proof; the extra line, the seal's envelope, shortened here;\nthe whole proof: tlseal proof %s %s):\n%s", name, dir, name, indent(shortenExtra(string(p.Marshal()))))
	return nil
}

func shortenExtra(proof string) string {
	lines := strings.SplitAfter(proof, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "extra ") && len(l) > 80 {
			lines[i] = fmt.Sprintf("%s...(%d characters)\n", l[:60], len(l)-len("extra ")-1)
		}
	}
	return strings.Join(lines, "")
}

func indent(s string) string {
	out := make([]byte, 0, len(s)+64)
	atStart := true
	for i := 0; i < len(s); i++ {
		if atStart && s[i] != '\n' {
			out = append(out, "     "...)
		}
		out = append(out, s[i])
		atStart = s[i] == '\n'
	}
	return string(out)
}

// entries says "1 entry", "2 entries".
func entries(n int64) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}
