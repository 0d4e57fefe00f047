package archive

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
)

// ingestWith opens the archive with signer (prev signs a rotation, when
// given), ingests one event and closes (a checkpoint by signer).
func ingestWith(t *testing.T, env *testEnv, dir string, signer, prev *timeline.Signer, i int) error {
	t.Helper()
	w, err := OpenWriter(dir, Options{Signer: signer, PreviousSigner: prev, Logger: env.opts(nil).Logger})
	if err != nil {
		return err
	}
	if _, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i)); err != nil {
		t.Fatal(err)
	}
	return w.Close()
}

// Checkpoint keys are pinned at creation; each new key is introduced by a
// rotation its predecessor signs, and only such keys sign checkpoints.
func TestKeyRotation(t *testing.T) {
	env := newEnv(t)
	b := testpki.Signer(t, testpki.Leaf(t, env.ca, testpki.Options{CN: "recorder b"}))
	c := testpki.Signer(t, testpki.Leaf(t, env.ca, testpki.Options{CN: "recorder c"}))
	hashOf := func(s *timeline.Signer) uint32 { h, _ := KeyHash(s.Cert.PublicKey); return h }

	dir := buildArchive(t, env, 2)
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(firstKeyFile))); err != nil {
		t.Fatalf("no pin: %v", err)
	}
	// A new key alone is refused, nothing written.
	if err := ingestWith(t, env, dir, b, nil, 10); ReasonOf(err) != ReasonKeyNotAccepted {
		t.Fatalf("new key without the previous one: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, keysDir, keyFileName(hashOf(b)))); err == nil {
		t.Error("the refused key was stored")
	}
	// A "previous" key that the archive does not accept either.
	if err := ingestWith(t, env, dir, b, c, 10); ReasonOf(err) != ReasonKeyNotAccepted {
		t.Fatalf("rotation signed by a stranger: %v", err)
	}
	// first → b → c, each rotation signed by the key before.
	if err := ingestWith(t, env, dir, b, env.signer, 10); err != nil {
		t.Fatal(err)
	}
	if err := ingestWith(t, env, dir, c, b, 11); err != nil {
		t.Fatal(err)
	}
	res := mustCheck(t, dir, CheckOptions{})
	if res.CheckpointKey == nil || res.CheckpointKey.KeyHash != hashOf(c) {
		t.Fatalf("checkpoint key %+v, want c's", res.CheckpointKey)
	}
	// Once accepted, a key needs no previous one again.
	if err := ingestWith(t, env, dir, b, nil, 12); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, dir, CheckOptions{})

	rot := func(s *timeline.Signer) string {
		return filepath.Join(dir, keysDir, fmt.Sprintf("%08x", hashOf(s))+rotationSuffix)
	}
	t.Run("editedRotation", func(t *testing.T) {
		d := copyDir(t, dir)
		p := filepath.Join(d, keysDir, filepath.Base(rot(b)))
		data, _ := os.ReadFile(p)
		data[len(rotationHeader)+2] ^= 1 // in the origin line
		os.Chmod(p, 0o644)
		os.WriteFile(p, data, 0o644)
		// b is out, and c with it (its rotation was signed by b): the
		// checkpoint, signed by b, no longer verifies.
		expect(t, d, CheckOptions{}, CodeKeyInvalid, CodeCheckpointInvalid)
	})
	t.Run("rotationCopiedToAnotherKey", func(t *testing.T) {
		d := copyDir(t, dir)
		x := testpki.Signer(t, testpki.Leaf(t, env.ca, testpki.Options{CN: "intruder"}))
		writeKey(d, x)
		data, _ := os.ReadFile(rot(b))
		os.WriteFile(filepath.Join(d, keysDir, fmt.Sprintf("%08x", hashOf(x))+rotationSuffix), data, 0o444)
		res := expect(t, d, CheckOptions{}, CodeKeyInvalid)
		if res.Has(CodeCheckpointInvalid) {
			t.Error("the archive's own checkpoint was refused")
		}
		if err := ingestWith(t, env, d, x, nil, 20); ReasonOf(err) != ReasonKeyNotAccepted {
			t.Errorf("the intruder's key opened the writer: %v", err)
		}
	})
	t.Run("legacyArchive", func(t *testing.T) {
		// An archive made before pinning: every key in keys/ is accepted,
		// as before, and Check says so.
		d := copyDir(t, dir)
		os.Remove(filepath.Join(d, filepath.FromSlash(firstKeyFile)))
		res := mustCheck(t, d, CheckOptions{}, CodeKeysNotPinned)
		if !res.Has(CodeKeysNotPinned) {
			t.Error("no log.keysNotPinned")
		}
		x := testpki.Signer(t, testpki.Leaf(t, env.ca, testpki.Options{CN: "any"}))
		if err := ingestWith(t, env, d, x, nil, 21); err != nil {
			t.Errorf("legacy archive refused a new key: %v", err)
		}
	})
	t.Run("firstKeyReplaced", func(t *testing.T) {
		// keys/first names another key: the history does not start.
		d := copyDir(t, dir)
		p := filepath.Join(d, filepath.FromSlash(firstKeyFile))
		os.Chmod(p, 0o644)
		os.WriteFile(p, []byte("00\n"), 0o644)
		expect(t, d, CheckOptions{}, CodeKeyInvalid, CodeCheckpointInvalid)
	})
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, fi.Mode().Perm()|0o200)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
