package verify_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tlseal/tlseal/internal/codescan"
	"github.com/tlseal/tlseal/verify"
)

// The documentation and the registry list the same codes, with the same
// severity and effect.
func TestFindingsDocumented(t *testing.T) {
	rows, err := codescan.DocTable("../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := slices.Sorted(maps.Keys(rows))
	if want := verify.SortedCodes(); !slices.Equal(documented, want) {
		t.Errorf("docs/findings.md lists %v\nregistry has %v", documented, want)
	}
	effects := map[verify.Effect]string{verify.EffectNone: "none", verify.EffectIndeterminate: "indeterminate", verify.EffectFail: "failed"}
	for code, info := range verify.Codes {
		row, ok := rows[code]
		if !ok {
			continue
		}
		if row.Severity != string(info.Severity) || row.Effect != effects[info.Effect] {
			t.Errorf("%s: docs/findings.md says %s/%s, the registry %s/%s", code, row.Severity, row.Effect, info.Severity, effects[info.Effect])
		}
	}
}

// Every exported Code* constant of the packages that find things is a
// registered code, and no finding is made from a hand-written literal: a
// typo must fail here, not become an error-severity finding at run time.
// (The watch package's code is checked by a test in watch, which may import
// verify.)
func TestEveryCodeConstantRegistered(t *testing.T) {
	for _, dir := range []string{"../riffio", "../timeline", "../archive", "../revocation", "."} {
		consts, err := codescan.Constants(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(consts) == 0 {
			t.Errorf("%s: no Code constants found (the scan is broken)", dir)
		}
		for name, code := range consts {
			if _, ok := verify.Codes[code]; !ok {
				t.Errorf("%s: %s = %q is not in verify.Codes", dir, name, code)
			}
		}
		lits, err := codescan.LiteralCodes(dir, "NewFinding", "add", "addProblem")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lits {
			t.Errorf("%s: a finding code written as a literal: %s", dir, l)
		}
	}
	// The scan itself can fail: a literal is caught.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.go"), []byte("package x\nconst CodeX = \"x.y\"\nfunc f() { NewFinding(\"seal.misssing\", \"\") }\nfunc NewFinding(c, f string) {}\n"), 0o644)
	if lits, _ := codescan.LiteralCodes(dir, "NewFinding"); len(lits) != 1 {
		t.Errorf("LiteralCodes found %v in a file with one literal code", lits)
	}
	if c, _ := codescan.Constants(dir); c["CodeX"] != "x.y" {
		t.Errorf("Constants = %v", c)
	}
}

func TestJudge(t *testing.T) {
	cases := []struct {
		codes []string
		want  verify.Verdict
	}{
		{nil, verify.Passed},
		{[]string{"json.duplicateKey"}, verify.Passed},
		{[]string{"cert.untrusted"}, verify.Indeterminate},
		{[]string{"cert.untrusted", "content.digestMismatch"}, verify.Failed},
		{[]string{"no.suchCode"}, verify.Failed},
	}
	for _, c := range cases {
		var fs []verify.Finding
		for _, code := range c.codes {
			fs = append(fs, verify.NewFinding(code, "x"))
		}
		if got := verify.Judge(fs); got != c.want {
			t.Errorf("Judge(%v) = %s, want %s", c.codes, got, c.want)
		}
	}
	// A code the registry does not know (a sealer's note) counts by its
	// severity; a registered code by the registry, whatever it says.
	for _, c := range []struct {
		f    verify.Finding
		want verify.Verdict
	}{
		{verify.Finding{Code: "vendor.hint", Severity: verify.SevInfo}, verify.Passed},
		{verify.Finding{Code: "vendor.odd", Severity: verify.SevWarning}, verify.Passed},
		{verify.Finding{Code: "vendor.damage", Severity: verify.SevError}, verify.Failed},
		{verify.Finding{Code: "vendor.blank"}, verify.Failed},
		{verify.Finding{Code: "content.digestMismatch", Severity: verify.SevInfo}, verify.Failed},
	} {
		if got := verify.Judge([]verify.Finding{c.f}); got != c.want {
			t.Errorf("Judge(%+v) = %s, want %s", c.f, got, c.want)
		}
	}
}
