package verify_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/tlseal/tlseal/verify"
)

// The documentation and the registry list the same codes.
func TestFindingsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-zA-Z]+\\.[a-zA-Z]+)` \\|").FindAllSubmatch(doc, -1) {
		documented = append(documented, string(m[1]))
	}
	slices.Sort(documented)
	if want := verify.SortedCodes(); !slices.Equal(documented, want) {
		t.Errorf("docs/findings.md lists %v\nregistry has %v", documented, want)
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
