package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tlseal/tlseal/internal/testarchive"
	"github.com/tlseal/tlseal/internal/testpki"
)

// Shard reports merged equal the single-run report, timing and command
// line aside — on an archive with findings of every kind of place (an
// entry, a missing file, an unlisted file).
func TestAuditShardsMergeToSingleRun(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.CA(t, testpki.Options{})
	caPath, _ := ca.Write(t, dir, "ca")
	signer := testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{}))
	// Findings: a missing file, a modified one, an unlisted one.
	arch := testarchive.WithFindings(t, dir, signer, testarchive.Options{Entries: 23, WAVEvery: 7, Alias: "r.wav"})

	single := filepath.Join(dir, "single.json")
	if _, errs, code := csRun(t, "audit", "--ca", caPath, "--format", "json="+single, arch); code != exitFailed {
		t.Fatalf("single run: exit %d: %s", code, errs)
	}
	var shards []string
	for i := range 3 {
		out := filepath.Join(dir, "shard"+string(rune('0'+i))+".json")
		shards = append(shards, out)
		if _, errs, code := csRun(t, "audit", "--ca", caPath, "--shard", string(rune('0'+i))+"/3", "--format", "json="+out, arch); code > exitFailed {
			t.Fatalf("shard %d: exit %d: %s", i, code, errs)
		}
	}
	merged := filepath.Join(dir, "merged.json")
	if _, errs, code := csRun(t, append([]string{"audit", "merge", "--format", "json=" + merged}, shards[2], shards[0], shards[1])...); code != exitFailed {
		t.Fatalf("merge: exit %d: %s", code, errs)
	}
	a, b := loadComparable(t, single), loadComparable(t, merged)
	if a != b {
		i := 0
		for i < min(len(a), len(b)) && a[i] == b[i] {
			i++
		}
		t.Errorf("merged report differs from the single run at byte %d:\nsingle: …%s\nmerged: …%s", i, a[max(0, i-200):min(len(a), i+200)], b[max(0, i-200):min(len(b), i+200)])
	}
	// Overlapping shards are refused.
	if _, errs, code := csRun(t, "audit", "merge", shards[0], shards[0]); code != exitError {
		t.Errorf("overlapping shards: exit %d %s", code, errs)
	}
}

// loadComparable reads a report without the fields that differ between
// runs (times, command line, tool version).
func loadComparable(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"startedAt", "finishedAt", "command", "tool"} {
		delete(m, k)
	}
	out, _ := json.Marshal(m)
	return string(out)
}
