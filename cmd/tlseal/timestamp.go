package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/atomicfile"
	"github.com/tlseal/tlseal/tsa"
)

type timestampOptions struct {
	tsa tsaFlags
}

func newTimestampCommand(root *rootOptions) *cobra.Command {
	var opts timestampOptions
	cmd := &cobra.Command{
		Use:   "timestamp ARCHIVE|CHECKPOINT --tsa URL",
		Short: "Add RFC 3161 timestamp tokens to checkpoints that lack them",
		Long: `Obtain RFC 3161 tokens, after the fact, for the checkpoints of an archive
that have none: the latest checkpoint, and every checkpoint the writer kept in
ARCHIVE/checkpoints/ whose TSA request failed (the watcher never waits for a
TSA). A token over a checkpoint says that every entry it includes existed by
the token's time (docs/archive.md, "Checkpoint timestamps"). Existing tokens
are never replaced, the log and the sealed files are never changed. The
command takes the archive's lock (on s3://, the writer's lease): it refuses
while a writer (ingest, watch) appends, since the watcher with --tsa stamps
its own checkpoints. On s3:// the notes and tokens it writes carry the
archive's retention.

CHECKPOINT may also be a checkpoint saved as a file (a witness, a signed
note): its token is written to CHECKPOINT.tst, to be checked with
  openssl ts -verify -token_in -in CHECKPOINT.tst -data CHECKPOINT -CAfile tsa-ca.pem

A sealed file gets no token afterwards: its token is over its signature and
inside its envelope, which is the archive's Merkle leaf; seal with
tlseal sign --tsa or ingest/watch --tsa-per-file instead.`,
		Example: `  tlseal timestamp evidence/ --tsa http://tsa.example/
  tlseal timestamp s3://evidence-bucket/site-1 --tsa http://tsa.example/
  tlseal timestamp saved-checkpoint.txt --tsa http://tsa.example/`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTimestamp(cmd.Context(), root, &opts, args[0])
		},
	}
	opts.tsa.register(cmd.Flags())
	cmd.Flags().Lookup("tsa").Usage = "RFC 3161 time-stamping authority URL (required)"
	return cmd
}

func runTimestamp(ctx context.Context, root *rootOptions, opts *timestampOptions, target string) error {
	if opts.tsa.url == "" {
		return usagef("--tsa URL is required")
	}
	stamp, err := opts.tsa.checkpointStamper()
	if err != nil {
		return err
	}
	if st, err := os.Stat(target); err == nil && st.IsDir() || archive.IsURL(target) {
		if err := checkArchiveDir(target); err != nil {
			return err
		}
		res, err := archive.Timestamp(ctx, target, stamp)
		if err != nil {
			return err
		}
		if len(res) == 0 {
			fmt.Fprintf(root.stdout, "nothing to timestamp: every checkpoint of %s that covers entries has its token already\n", target)
			return nil
		}
		failed := 0
		for _, r := range res {
			if r.Err != nil {
				failed++
				fmt.Fprintf(root.stderr, "tlseal: the checkpoint of %s: %v\n", entries(r.Size), r.Err)
				continue
			}
			fmt.Fprintf(root.stdout, "the checkpoint of %s: token stored in %s/checkpoints/%d.tst\n", entries(r.Size), target, r.Size)
		}
		if failed > 0 {
			return &verdictError{code: exitError}
		}
		return nil
	}
	return timestampNoteFile(ctx, root, target, stamp)
}

// timestampNoteFile stamps a checkpoint saved as a file: FILE.tst.
func timestampNoteFile(ctx context.Context, root *rootOptions, path string, stamp archive.Timestamper) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	note, err := io.ReadAll(io.LimitReader(f, 64<<10+1))
	f.Close()
	if err != nil {
		return err
	}
	if _, err := archive.ParseCheckpoint(note); len(note) > 64<<10 || err != nil {
		if err == nil {
			err = fmt.Errorf("%d bytes or more (a checkpoint is a signed note of a few hundred)", len(note))
		}
		if looksSealed(note) {
			return usagef("%s is a sealed file: a seal's token is made when it is sealed (tlseal sign --tsa, ingest/watch --tsa-per-file), never added afterwards", path)
		}
		return fmt.Errorf("%s is not a checkpoint: %w", path, err)
	}
	out := path + ".tst"
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("%s exists already: a token is never replaced", out)
	}
	sum := sha256.Sum256(note)
	tok, err := stamp(ctx, sum[:])
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(out, tok, 0o444, false); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists already: a token is never replaced", out)
		}
		return err
	}
	if t, err := tsa.Parse(tok); err == nil {
		fmt.Fprintf(root.stdout, "token of %s stored in %s (genTime %s)\n", path, out, t.GenTime.UTC().Format(time.RFC3339))
	}
	return nil
}

// looksSealed reports whether data starts like a timeline file (RIFF or a
// JSON object) rather than a signed note.
func looksSealed(data []byte) bool {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		break
	}
	return len(data) >= 4 && string(data[:4]) == "RIFF"
}
