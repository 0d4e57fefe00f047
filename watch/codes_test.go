package watch

import (
	"errors"
	"strings"
	"testing"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/codescan"
	"github.com/tlseal/tlseal/verify"
)

// The watcher's finding codes are registered in verify (which may not
// import watch) under the same value, and documented with the rest.
func TestCodesRegistered(t *testing.T) {
	consts, err := codescan.Constants(".")
	if err != nil {
		t.Fatal(err)
	}
	if consts["CodeIncomplete"] != CodeIncomplete {
		t.Fatalf("the scan found %v, not CodeIncomplete", consts)
	}
	rows, err := codescan.DocTable("../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, code := range consts {
		info, ok := verify.Codes[code]
		if !ok {
			t.Errorf("%s = %q is not in verify.Codes", name, code)
			continue
		}
		if row, ok := rows[code]; !ok || row.Severity != string(info.Severity) {
			t.Errorf("%s = %q: docs/findings.md has %+v", name, code, row)
		}
	}
	// The note the watcher records has the registered severity.
	if n := incompleteNote(0, "x"); string(n.Severity) != string(verify.Codes[CodeIncomplete].Severity) {
		t.Errorf("incompleteNote severity %q, registry %q", n.Severity, verify.Codes[CodeIncomplete].Severity)
	}
}

// A cause that names the reason already is not prefixed with it again.
func TestErrorMessageNoRepeat(t *testing.T) {
	_, err := archive.ReadMetadata(t.TempDir())
	msg := newError(ReasonArchive, "open archive", "/srv/ev", err).Error()
	if strings.Contains(msg, "archive: archive:") || !strings.Contains(msg, "not a tlseal archive") {
		t.Errorf("message %q", msg)
	}
	if msg := newError(ReasonVanished, "seal", "a.json", errors.New("gone")).Error(); msg != "watch: seal a.json: vanished: gone" {
		t.Errorf("message %q", msg)
	}
}
