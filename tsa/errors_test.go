package tsa

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func TestReasons(t *testing.T) {
	seen := map[string]bool{}
	for r := ReasonUnknown; r <= ReasonNonce; r++ {
		s := r.String()
		if s == "" || strings.HasPrefix(s, "Reason(") || seen[s] {
			t.Errorf("Reason %d: %q", int(r), s)
		}
		seen[s] = true
	}
	if s := Reason(99).String(); s != "Reason(99)" {
		t.Errorf("%q", s)
	}
	err := fmt.Errorf("sealing: %w", &Error{Reason: ReasonEKU, Detail: "d", Err: io.EOF})
	if ReasonOf(err) != ReasonEKU || !errors.Is(err, io.EOF) || err.Error() != "sealing: tsa: TSA extended key usage: d: EOF" {
		t.Errorf("%v", err)
	}
	if ReasonOf(nil) != ReasonUnknown || ReasonOf(io.EOF) != ReasonUnknown {
		t.Error("ReasonOf of a foreign error")
	}
}

func TestGeneralizedTime(t *testing.T) {
	for in, want := range map[string]string{
		"20261203101346Z":            "2026-12-03T10:13:46Z",
		"20261203101346.3Z":          "2026-12-03T10:13:46.3Z",
		"20261203101346.308Z":        "2026-12-03T10:13:46.308Z",
		"20261203101346.123456789Z":  "2026-12-03T10:13:46.123456789Z",
		"20240229000000Z":            "2024-02-29T00:00:00Z",
		"20261203101346.1234567891Z": "",
		"20261203101346.30Z":         "",
		"20261203101346.Z":           "",
		"20261203101346":             "",
		"20261203101346+0100":        "",
		"202612031013Z":              "",
		"2026120310134aZ":            "",
		"20261303101346Z":            "",
		"20230229000000Z":            "",
		"20261203241346Z":            "",
		"20261203101360Z":            "",
		"+0261203101346Z":            "",
		"":                           "",
	} {
		got, ok := parseGeneralizedTime([]byte(in))
		if want == "" {
			if ok {
				t.Errorf("%q is read as %v", in, got)
			}
			continue
		}
		w, _ := time.Parse(time.RFC3339Nano, want)
		if !ok || !got.Equal(w) || got.Location() != time.UTC {
			t.Errorf("%q: %v %v, want %v", in, got, ok, w)
		}
	}
}
