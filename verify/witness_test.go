package verify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlseal/tlseal/verify"
)

func TestWitnessPolicy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wit.cp")
	// Not there yet: fine only when the audit may create it, in a
	// directory that exists.
	if w, err := verify.ReadWitness(path, true); err != nil || w != nil {
		t.Errorf("ReadWitness(new, create) = %q, %v", w, err)
	}
	if _, err := verify.ReadWitness(path, false); err == nil {
		t.Error("a missing witness without --update-witness was accepted")
	}
	if _, err := verify.ReadWitness(filepath.Join(dir, "no", "wit.cp"), true); err == nil || !strings.Contains(err.Error(), "its directory") {
		t.Errorf("a witness in a missing directory: %v", err)
	}
	res := &verify.ArchiveResult{CheckpointNote: []byte("checkpoint note\n")}
	for _, v := range []verify.Verdict{verify.Failed, verify.Indeterminate} {
		if ok, err := verify.UpdateWitness(path, res, v); ok || err != nil {
			t.Errorf("UpdateWitness after %s: %v, %v", v, ok, err)
		}
	}
	if ok, _ := verify.UpdateWitness(path, &verify.ArchiveResult{}, verify.Passed); ok {
		t.Error("updated without a checkpoint")
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("a witness was written by an audit that did not pass")
	}
	if ok, err := verify.UpdateWitness(path, res, verify.Passed); !ok || err != nil {
		t.Fatalf("UpdateWitness after a pass: %v, %v", ok, err)
	}
	if w, err := verify.ReadWitness(path, false); err != nil || string(w) != "checkpoint note\n" {
		t.Errorf("read back %q, %v", w, err)
	}
}
