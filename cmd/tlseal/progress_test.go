package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

func TestETA(t *testing.T) {
	for _, c := range []struct {
		total, n, b int64
		working     time.Duration
		want        string
	}{
		{1000, 0, 0, 0, "?"},
		{1000, 1, 2000, 100 * time.Millisecond, "?"},   // too early
		{1000, 5, 10000, 1500 * time.Millisecond, "?"}, // under 1% and under 2 s
		{1000, 500, 1e6, 5 * time.Second, "5s"},        // half done in 5 s
		{1000, 10, 1e6, 2 * time.Second, "3m18s"},      // 10 large files: bytes say 990 MB to go at 0.5 MB/s
		{100, 100, 1e6, 10 * time.Second, "?"},         // done
	} {
		if got := eta(c.total, c.n, c.b, c.working); got != c.want {
			t.Errorf("eta(%d, %d, %d, %v) = %s, want %s", c.total, c.n, c.b, c.working, got, c.want)
		}
	}
}

// An interrupted command says so, not "context canceled", and exits 2.
func TestInterruptedMessage(t *testing.T) {
	var out bytes.Buffer
	if code := reportExit(&out, fmt.Errorf("audit: %w", context.Canceled)); code != exitError || out.String() != "tlseal: interrupted: no report written\n" {
		t.Errorf("exit %d, %q", code, out.String())
	}
}
