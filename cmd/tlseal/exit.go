package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	"github.com/tlseal/tlseal/report"
)

// Exit statuses, the same for every command. They are documented in the root
// command's help (exitStatusHelp) and in the README.
const (
	exitPassed        = 0 // everything checked passed
	exitFailed        = 1 // at least one item failed verification
	exitError         = 2 // usage, input or operational error: nothing was judged
	exitIndeterminate = 3 // nothing failed, but at least one item is indeterminate
)

const exitStatusHelp = `Exit status:
  0  everything checked passed (or the command did its job)
  1  at least one item failed verification
  2  usage, input or operational error: nothing was judged
  3  nothing failed, but at least one item is indeterminate (e.g. untrusted signer)`

// verdictError carries a verification outcome that is not a plain success.
// It is not an error in the operational sense: the report was printed, and
// only the exit status remains to be set.
type verdictError struct {
	code int
	hint string // what to do about it, if the verdict may not be the evidence's (no trust anchor)
}

func (e *verdictError) Error() string { return fmt.Sprintf("verification verdict (exit %d)", e.code) }

// usageError marks mistakes in the command line itself.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// reportExit prints an operational error ("tlseal: ...", then for the
// common failures a "hint: ..." line saying what to do) and maps err to the
// process exit status.
func reportExit(stderr io.Writer, err error) int {
	if err == nil {
		return exitPassed
	}
	var v *verdictError
	if errors.As(err, &v) {
		if v.hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", v.hint)
		}
		return v.code
	}
	if errors.Is(err, context.Canceled) {
		// Ctrl-C or SIGTERM: the work stopped where it was.
		fmt.Fprintln(stderr, "tlseal: interrupted: no report written")
		return exitError
	}
	fmt.Fprintf(stderr, "tlseal: %v\n", err)
	if h := hintFor(err); h != "" {
		fmt.Fprintf(stderr, "hint: %s\n", h)
	}
	var u *usageError
	if errors.As(err, &u) {
		fmt.Fprintln(stderr, "Run 'tlseal --help' for usage.")
	}
	return exitError
}

// failOnFlag is --fail-on of verify and audit: "warning" makes any warning
// finding exit 1, for jobs that must not pass over a warning unread.
type failOnFlag struct{ level string }

func (f *failOnFlag) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.level, "fail-on", "", "warning: exit 1 when any finding is a warning (the report's summary counts them)")
}

func (f *failOnFlag) check() error {
	if f.level != "" && f.level != "warning" {
		return usagef("--fail-on takes \"warning\", not %q", f.level)
	}
	return nil
}

// verdict is the exit of a finished report, with --fail-on applied.
func (f *failOnFlag) verdict(root *rootOptions, rep *report.Report, hint string) error {
	code := verdictExit(rep.Verdict)
	if w := rep.Summary.Warnings; f.level == "warning" && w > 0 && code != exitFailed {
		fmt.Fprintf(root.stderr, "tlseal: --fail-on warning: %d warning finding(s): exit %d\n", w, exitFailed)
		code = exitFailed
	}
	return &verdictError{code: code, hint: hint}
}
