package main

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// The exit-status mapping of docs/deploy/audit-indexed-job.yaml: a verdict
// (0, 1, 3) is a finished pod, an operational error (2: nothing judged, no
// report — an incomplete shard set for the merge) fails it. Run with sh.
func TestDeployExitMapping(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deploy/audit-indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := regexp.MustCompile(`(?m)^\s*(s=\$\?;.*)$`).FindAllSubmatch(doc, -1)
	if len(lines) != 2 {
		t.Fatalf("found %d exit mappings, want 2 (shards and merge)", len(lines))
	}
	for _, l := range lines {
		for status, want := range map[int]int{0: 0, 1: 0, 2: 2, 3: 0, 4: 4} {
			err := exec.Command("sh", "-c", "(exit "+strconv.Itoa(status)+"); "+string(l[1])).Run()
			got := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				got = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: tlseal exit %d gives %d, want %d", l[1], status, got, want)
			}
		}
	}
}
