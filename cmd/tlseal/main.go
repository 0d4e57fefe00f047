// Command tlseal seals, archives and verifies timeline evidence files.
//
// The command is thin on purpose: every behaviour lives in a library package
// (timeline, verify, archive, certstore, ...); this package only parses flags,
// wires the packages together and maps outcomes to exit codes (exit.go).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the process exit status.
func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := &rootOptions{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, argv: args}
	cmd := newRootCommand(opts)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return reportExit(opts.stderr, err)
}
