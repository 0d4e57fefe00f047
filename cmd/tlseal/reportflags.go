package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tlseal/tlseal/internal/atomicfile"
	"github.com/tlseal/tlseal/report"
	"github.com/tlseal/tlseal/timeline"
)

// reportFlags are the report options of verify and audit.
type reportFlags struct {
	formats   []string
	outputs   []string
	reportDir string
	caseInfo  report.Case
	sign      bool        // --sign-report
	signer    signerFlags // its --report-cert / --report-key
}

func (f *reportFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.formats, "format", nil, "report format: text, json, html or junit, or FORMAT=FILE (repeatable; default text)")
	fs.StringArrayVarP(&f.outputs, "output", "o", nil, "report file for the --format at the same position (repeatable; default standard output)")
	fs.StringVar(&f.reportDir, "report-dir", "", "write every --format to DIR/report.{txt,json,html,xml}")
	fs.StringVar(&f.caseInfo.ID, "case", "", "case identifier recorded in the report")
	fs.StringVar(&f.caseInfo.Examiner, "examiner", "", "examiner's name recorded in the report")
	fs.StringVar(&f.caseInfo.Notes, "notes", "", "notes recorded in the report")
	fs.BoolVar(&f.sign, "sign-report", false, "seal JSON report files (check them later with tlseal verify report.json)")
	f.signer.flags = [2]string{"--report-cert", "--report-key"}
	fs.StringVar(&f.signer.cert, "report-cert", "", "certificate that seals reports (with --sign-report)")
	fs.StringVar(&f.signer.key, "report-key", "", "private key that seals reports (with --sign-report)")
}

var reportWriters = map[string]struct {
	write func(io.Writer, *report.Report) error
	ext   string
}{
	"text":  {report.WriteText, "txt"},
	"json":  {report.WriteJSON, "json"},
	"html":  {report.WriteHTML, "html"},
	"junit": {report.WriteJUnit, "xml"},
}

type reportTarget struct {
	format string
	path   string // "" for standard output
}

// targets checks the flags before any work is done (usage errors first).
func (f *reportFlags) targets() ([]reportTarget, error) {
	formats := f.formats
	if len(formats) == 0 {
		formats = []string{"text"}
	}
	if len(f.outputs) > len(formats) {
		return nil, usagef("more -o files (%d) than --format values (%d)", len(f.outputs), len(formats))
	}
	var ts []reportTarget
	stdout := 0
	for i, format := range formats {
		file := ""
		if k := strings.IndexByte(format, '='); k >= 0 {
			format, file = format[:k], format[k+1:]
		}
		w, ok := reportWriters[format]
		if !ok {
			return nil, usagef("unknown --format %q (text, json, html or junit)", format)
		}
		t := reportTarget{format: format}
		switch {
		case file != "" && file != "-":
			t.path = file
		case file == "-":
		case i < len(f.outputs) && f.outputs[i] != "-":
			t.path = f.outputs[i]
		case f.reportDir != "":
			t.path = filepath.Join(f.reportDir, "report."+w.ext)
		}
		if t.path == "" {
			stdout++
		}
		ts = append(ts, t)
	}
	if stdout > 1 {
		return nil, usagef("only one report can go to standard output: give -o FILE or --report-dir for the others")
	}
	if f.sign && !slices.ContainsFunc(ts, func(t reportTarget) bool { return t.format == "json" && t.path != "" }) {
		return nil, usagef("--sign-report seals JSON report files: add --format json with -o FILE or --report-dir")
	}
	return ts, nil
}

// caseOrNil returns the case information if any was given.
func (f *reportFlags) caseOrNil() *report.Case {
	if f.caseInfo == (report.Case{}) {
		return nil
	}
	c := f.caseInfo
	return &c
}

// emit writes the report to every target; files atomically. With
// --sign-report, JSON report files are sealed in place: a report is
// evidence too.
func (f *reportFlags) emit(root *rootOptions, targets []reportTarget, rep *report.Report) error {
	var signer *timeline.Signer
	if f.sign {
		s, err := root.loadSigner(f.signer)
		if err != nil {
			return fmt.Errorf("--sign-report: %w", err)
		}
		signer = s
	}
	for _, t := range targets {
		w := reportWriters[t.format]
		if t.path == "" {
			if err := w.write(root.stdout, rep); err != nil {
				return err
			}
			continue
		}
		if dir := filepath.Dir(t.path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		if st, err := os.Stat(t.path); err == nil && !st.Mode().IsRegular() {
			// A device or pipe (/dev/null, /dev/stdout): write to it; a
			// rename would replace it by a regular file.
			f, err := os.OpenFile(t.path, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			err = w.write(f, rep)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			continue
		}
		out, err := atomicfile.Create(t.path, 0o644)
		if err != nil {
			return err
		}
		if err := w.write(out, rep); err != nil {
			out.Abort()
			return err
		}
		if err := out.Commit(true); err != nil {
			return err
		}
		sealed := ""
		if signer != nil && t.format == "json" {
			if _, err := timeline.SealFile(t.path, t.path, true, timeline.SealOptions{Name: filepath.Base(t.path), Signer: signer}); err != nil {
				return fmt.Errorf("sealing the report %s: %w", t.path, err)
			}
			sealed = ", sealed"
		}
		fmt.Fprintf(root.stderr, "%s report written to %s (verdict: %s%s)\n", t.format, t.path, rep.Verdict, sealed)
	}
	return nil
}
