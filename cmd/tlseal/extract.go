package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/tlseal/tlseal/internal/atomicfile"
	"github.com/tlseal/tlseal/timeline"
)

type extractOptions struct {
	output string
	force  bool
}

func newExtractCommand(root *rootOptions) *cobra.Command {
	var opts extractOptions
	cmd := &cobra.Command{
		Use:   "extract SEALED -o ORIGINAL",
		Short: "Write the original bytes of a sealed file, byte for byte",
		Long: `Write the original file that was sealed: the seal member or chunk is removed and
the RIFF header's size field restored. sha256sum of the result equals the seal's
sha256 when the file is intact; when it is not, the bytes are still written (they
are evidence too) and the exit status is 1.`,
		Example: `  tlseal extract rec.sealed.wav -o original.wav && sha256sum original.wav
  tlseal extract event.sealed.json -o - | jq .`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExtract(cmd.Context(), root, &opts, args[0])
		},
	}
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "output file, or - for standard output (required)")
	cmd.Flags().BoolVar(&opts.force, "force", false, "overwrite an existing output file")
	return cmd
}

func runExtract(_ context.Context, root *rootOptions, opts *extractOptions, in string) error {
	if opts.output == "" {
		return usagef("extract needs -o ORIGINAL (or -o - for standard output)")
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	o, err := timeline.Open(f, st.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	orig, err := o.Original()
	if err != nil {
		for _, p := range o.Problems {
			fmt.Fprintf(root.stderr, "  %s: %s\n", p.Code, p.Detail)
		}
		return fmt.Errorf("%s: %w", in, err)
	}
	h := sha256.New()
	if opts.output == "-" {
		if _, err := io.Copy(io.MultiWriter(root.stdout, h), orig); err != nil {
			return err
		}
	} else {
		w, err := atomicfile.Create(opts.output, 0o644)
		if err != nil {
			return err
		}
		defer w.Abort()
		if _, err := io.Copy(io.MultiWriter(w, h), orig); err != nil {
			return err
		}
		if err := w.Commit(opts.force); err != nil {
			return fmt.Errorf("%w (--force overwrites)", err)
		}
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != o.Envelope.SHA256 {
		fmt.Fprintf(root.stderr, "tlseal: extract %s: WARNING: the extracted bytes do not match the seal (sha256 %s, sealed %s)\n", in, got, o.Envelope.SHA256)
		return &verdictError{code: exitFailed}
	}
	if opts.output != "-" {
		fmt.Fprintf(root.stdout, "extracted %s -> %s (%d bytes, sha256 %s matches the seal)\n", in, opts.output, o.OriginalSize, got)
	}
	return nil
}
