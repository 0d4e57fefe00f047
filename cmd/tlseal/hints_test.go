package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/testpki"
)

// A real lock conflict (a second writer on an archive) is reported with its
// hint; so are the other typed failures, however deeply wrapped.
func TestReportExitHints(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ev")
	signer := testpki.Signer(t, testpki.Leaf(t, testpki.CA(t, testpki.Options{}), testpki.Options{}))
	w, err := archive.Create(dir, archive.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, lockErr := archive.OpenWriter(dir, archive.Options{Signer: signer})
	if archive.ReasonOf(lockErr) != archive.ReasonLocked {
		t.Fatalf("second writer: %v", lockErr)
	}
	_, notArchive := archive.ReadMetadata(t.TempDir())
	for _, c := range []struct {
		err  error
		hint string
	}{
		{fmt.Errorf("ingest: %w", lockErr), hintArchiveLocked},
		{notArchive, hintNotArchive},
		{fmt.Errorf("plain"), ""},
	} {
		var out bytes.Buffer
		if code := reportExit(&out, c.err); code != exitError {
			t.Errorf("%v: exit %d", c.err, code)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if !strings.HasPrefix(lines[0], "tlseal: ") {
			t.Errorf("%v: first line %q", c.err, lines[0])
		}
		switch {
		case c.hint == "" && len(lines) != 1:
			t.Errorf("%v: %q, want one line", c.err, out.String())
		case c.hint != "" && (len(lines) != 2 || lines[1] != "hint: "+c.hint):
			t.Errorf("%v: %q, want the hint %q", c.err, out.String(), c.hint)
		}
	}
}
