package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/atomicfile"
)

type proofOptions struct {
	output      string
	verifierKey bool
}

func newProofCommand(root *rootOptions) *cobra.Command {
	var opts proofOptions
	cmd := &cobra.Command{
		Use:   "proof ARCHIVE NAME",
		Short: "Print the inclusion proof of an archived file (C2SP tlog-proof)",
		Long: `Print the proof that an archived file's seal is in the archive's Merkle log, in
the C2SP tlog-proof format: the entry's index, the audit path, and the latest
signed checkpoint. The extra data is the seal's envelope (base64), so the proof
is self-contained: RFC 6962 leaf hash of the envelope, audit path, root of the
checkpoint, signature by the archive's key (--verifier-key prints that key in
signed-note form).

NAME is the file's name in the archive (its path under ARCHIVE/files/, e.g.
events/e1.v2.json) or the name it was ingested under (then the latest version).
The archive is only read: this works while a writer is appending. An entry
appended after the latest checkpoint has no proof until the next one.

Notes the sealer recorded with the entry (the watcher's watch.incomplete) are
printed to standard error: they are in the log record, not in the proof (the
Merkle leaf is the seal alone).`,
		Example: `  tlseal proof evidence/ events/event-0001.json
  tlseal proof evidence/ rec-0001.wav -o rec-0001.tlog-proof
  tlseal proof --verifier-key evidence/ rec-0001.wav`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProof(cmd.Context(), root, &opts, args[0], args[1])
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.output, "output", "o", "", "write the proof to FILE (default: standard output)")
	f.BoolVar(&opts.verifierKey, "verifier-key", false, "also print the checkpoint's signed-note verifier key to standard error")
	return cmd
}

func runProof(ctx context.Context, root *rootOptions, opts *proofOptions, dir, name string) error {
	r, err := archive.OpenReader(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	e, err := r.Lookup(strings.TrimPrefix(name, "files/"))
	if err != nil {
		return err
	}
	p, err := r.Prove(e)
	if err != nil {
		return err
	}
	for _, n := range e.Notes {
		fmt.Fprintf(root.stderr, "note (entry %d, not covered by the proof): %s %s: %s\n", e.Seq, n.Severity, n.Code, n.Message)
	}
	if opts.verifierKey {
		_, key, err := r.Checkpoint()
		if err != nil {
			return err
		}
		vkey, err := key.VerifierKey(r.Metadata().Origin)
		if err != nil {
			return err
		}
		fmt.Fprintf(root.stderr, "verifier key: %s\n", vkey)
	}
	data := p.Marshal()
	if opts.output == "" {
		_, err = root.stdout.Write(data)
		return err
	}
	return atomicfile.WriteFile(opts.output, data, 0o644, true)
}
