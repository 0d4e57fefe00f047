package timeline

import (
	"fmt"
	"strings"
	"testing"
)

// Every reason has its own text; an unknown value names itself rather than
// printing nothing.
func TestReasonString(t *testing.T) {
	seen := map[string]Reason{}
	for r := Reason(1); r <= ReasonTimestamp; r++ {
		s := r.String()
		if s == "" || strings.HasPrefix(s, "timeline.Reason(") {
			t.Errorf("reason %d has no text", int(r))
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("reasons %d and %d share the text %q", int(prev), int(r), s)
		}
		seen[s] = r
	}
	if got, want := (ReasonTimestamp + 1).String(), fmt.Sprintf("timeline.Reason(%d)", int(ReasonTimestamp+1)); got != want {
		t.Errorf("unknown reason: %q, want %q", got, want)
	}
}
