package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/tlseal/tlseal/report"
)

func newVersionCommand(root *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version, commit and Go version",
		Example: `  tlseal version`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			commit, modified := "unknown", ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						commit = s.Value
					case "vcs.modified":
						if s.Value == "true" {
							modified = " (modified)"
						}
					}
				}
			}
			fmt.Fprintf(root.stdout, "tlseal %s\ncommit %s%s\n%s %s/%s\n", report.Version(), commit, modified, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

func newManCommand(root *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "man DIR",
		Short:   "Write man pages for every command into DIR",
		Example: `  tlseal man /usr/local/share/man/man1`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			header := &doc.GenManHeader{Title: "TLSEAL", Section: "1", Source: "tlseal " + report.Version()}
			if err := doc.GenManTree(cmd.Root(), header, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(root.stdout, "man pages written to %s\n", args[0])
			return nil
		},
	}
}
