package archive

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
)

// buildArchive makes an archive of n JSON events and one WAV, closed (so
// checkpointed), and returns its directory.
func buildArchive(t *testing.T, env *testEnv, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "archive")
	w, err := Create(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if _, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Ingest(env.write("rec.wav", samples.WAV(8000, 0.25, 440)), "rec.wav"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, dir, CheckOptions{})
	return dir
}

func writable(t *testing.T, path string) {
	t.Helper()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

func entryRecords(t *testing.T, dir string) (data []byte, offs []int64) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, entriesFile))
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(0); off < int64(len(data)); {
		_, n, err := parseRecord(data[off:], off)
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
		off += int64(n)
	}
	return data, offs
}

// rebuildDerived rewrites log/index and log/hashes from log/entries, as an
// attacker who knows the format would after editing the entries.
func rebuildDerived(t *testing.T, dir string) {
	t.Helper()
	data, offs := entryRecords(t, dir)
	var index, hashes []byte
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			copy(out[i][:], hashes[x*hashLen:])
		}
		return out, nil
	})
	for i, off := range offs {
		r, n, _ := parseRecord(data[off:], off)
		hs, err := tlog.StoredHashes(int64(i), r.Envelope, hr)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			hashes = append(hashes, h[:]...)
		}
		env, _ := timeline.ParseEnvelope(r.Envelope)
		name := ""
		if env != nil {
			name = env.Name
		}
		index = append(index, (&indexRecord{Offset: off, Length: n, Seq: int64(i + 1), NameHash: nameHash(r.ArchiveName), SrcHash: nameHash(name)}).marshal()...)
	}
	os.WriteFile(filepath.Join(dir, indexFile), index, 0o644)
	os.WriteFile(filepath.Join(dir, hashesFile), hashes, 0o644)
}

func expect(t *testing.T, dir string, opts CheckOptions, codes ...string) *CheckResult {
	t.Helper()
	res, err := Check(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if !res.Has(c) {
			t.Errorf("Check did not report %s; it found:\n%s", c, problemCodes(res))
		}
	}
	if len(res.Problems) == 0 {
		t.Error("Check found nothing")
	}
	t.Log("\n" + problemCodes(res))
	if !isRemote(dir) {
		compareOnS3(t, dir, opts, res)
	}
	return res
}

// expectWriterRefuses checks that a writer will not append to the damaged
// archive (or, when it may, that it does not hide the damage).
func expectWriterRefuses(t *testing.T, env *testEnv, dir string) {
	t.Helper()
	w, err := OpenWriter(dir, env.opts(nil))
	if err == nil {
		w.Close()
		t.Fatal("the writer opened a tampered archive")
	}
	if ReasonOf(err) != ReasonCorrupt {
		t.Fatalf("writer: %v", err)
	}
}

func TestTamper(t *testing.T) {
	env := newEnv(t)
	roots := x509.NewCertPool()
	roots.AddCert(env.ca.Cert)

	t.Run("deletedFile", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		os.Remove(filePath(dir, eventName(3)))
		res := expect(t, dir, CheckOptions{}, CodeEntryMissingFile)
		if res.Problems[0].Seq != 3 {
			t.Errorf("problem on seq %d", res.Problems[0].Seq)
		}
	})
	t.Run("addedFile", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		// A validly sealed file, by the right signer, slipped in.
		src := env.writeJSON("extra.json", 99)
		if _, err := timeline.SealFile(src, filePath(dir, "events/extra.json"), false, timeline.SealOptions{Name: "events/extra.json", Signer: env.signer}); err != nil {
			t.Fatal(err)
		}
		expect(t, dir, CheckOptions{}, CodeUnlistedFile)
	})
	t.Run("reorderedFiles", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		a, b := filePath(dir, eventName(2)), filePath(dir, eventName(4))
		tmp := a + ".swap"
		os.Rename(a, tmp)
		os.Rename(b, a)
		os.Rename(tmp, b)
		res := expect(t, dir, CheckOptions{}, CodeEntryMismatch)
		seqs := map[int64]bool{}
		for _, p := range res.Problems {
			seqs[p.Seq] = true
		}
		if !seqs[2] || !seqs[4] {
			t.Errorf("problems on %v", seqs)
		}
	})
	t.Run("reorderedLog", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		data, offs := entryRecords(t, dir)
		// Swap records 2 and 3 (renumbering them), fix index and hashes.
		r2, _, _ := parseRecord(data[offs[1]:], offs[1])
		r3, _, _ := parseRecord(data[offs[2]:], offs[2])
		r2.Seq, r3.Seq = 3, 2
		r2.PrevVersion, r3.PrevVersion = 0, 0
		out := append([]byte{}, data[:offs[1]]...)
		out = append(out, r3.marshal()...)
		out = append(out, r2.marshal()...)
		out = append(out, data[offs[3]:]...)
		writable(t, filepath.Join(dir, entriesFile))
		os.WriteFile(filepath.Join(dir, entriesFile), out, 0o644)
		rebuildDerived(t, dir)
		expect(t, dir, CheckOptions{}, CodeChainGap, CodeChainPrevMismatch, CodeRootMismatch)
		expectWriterRefuses(t, env, dir)
	})
	t.Run("modifiedFileContent", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		p := filePath(dir, eventName(5))
		writable(t, p)
		data, _ := os.ReadFile(p)
		data = bytes.Replace(data, []byte(`"alias": "Unit`), []byte(`"alias": "Unix`), 1)
		os.WriteFile(p, data, 0o644)
		expect(t, dir, CheckOptions{}, timeline.CodeDigestMismatch)
	})
	t.Run("modifiedWAV", func(t *testing.T) {
		dir := buildArchive(t, env, 2)
		p := filePath(dir, "rec.wav")
		writable(t, p)
		data, _ := os.ReadFile(p)
		data[1000] ^= 1
		os.WriteFile(p, data, 0o644)
		expect(t, dir, CheckOptions{}, timeline.CodeDigestMismatch)
	})
	t.Run("resealedFile", func(t *testing.T) {
		// The file replaced by a different, validly sealed version with a
		// forged chain link: the leaf no longer matches.
		dir := buildArchive(t, env, 5)
		r, _ := OpenReader(dir)
		e, _ := r.Entry(2)
		r.Close()
		src := env.writeJSON("forged.json", 42)
		p := filePath(dir, e.ArchiveName)
		os.Remove(p)
		if _, err := timeline.SealFile(src, p, false, timeline.SealOptions{Name: e.Name, Signer: env.signer, Chain: e.Envelope.Chain}); err != nil {
			t.Fatal(err)
		}
		expect(t, dir, CheckOptions{}, CodeEntryMismatch)
	})
	t.Run("renamedFile", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		os.Rename(filePath(dir, eventName(2)), filePath(dir, "events/renamed.json"))
		expect(t, dir, CheckOptions{}, CodeEntryMissingFile, CodeUnlistedFile)
	})
	t.Run("fileFromAnotherArchive", func(t *testing.T) {
		// The same source files archived elsewhere (another chain, the
		// same signer): each sealed copy is valid on its own, but it is
		// not this archive's entry.
		dir := buildArchive(t, env, 5)
		other := buildArchive(t, env, 5)
		p := filePath(dir, eventName(3))
		os.Remove(p)
		data, _ := os.ReadFile(filePath(other, eventName(3)))
		os.WriteFile(p, data, 0o444)
		expect(t, dir, CheckOptions{}, CodeEntryMismatch)
	})
	t.Run("symlinkOutside", func(t *testing.T) {
		// The sealed file moved out of the archive and a link left in
		// its place: the bytes are the same, but the archive no longer
		// holds its evidence (a link can be repointed at any time).
		dir := buildArchive(t, env, 5)
		p := filePath(dir, eventName(4))
		outside := filepath.Join(t.TempDir(), "moved.json")
		data, _ := os.ReadFile(p)
		os.WriteFile(outside, data, 0o444)
		os.Remove(p)
		if err := os.Symlink(outside, p); err != nil {
			t.Fatal(err)
		}
		res := expect(t, dir, CheckOptions{}, CodeEntryMismatch)
		if res.Problems[0].Seq != 4 {
			t.Errorf("problem on seq %d", res.Problems[0].Seq)
		}
	})
	t.Run("symlinkedDirectory", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		events := filepath.Join(dir, filesDir, "events")
		outside := filepath.Join(t.TempDir(), "events")
		if err := os.Rename(events, outside); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, events); err != nil {
			t.Fatal(err)
		}
		expect(t, dir, CheckOptions{}, CodeEntryMismatch)
	})
	t.Run("modifiedLogRecord", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		p := filepath.Join(dir, entriesFile)
		data, offs := entryRecords(t, dir)
		writable(t, p)
		data[offs[1]+60] ^= 1 // inside record 2: the CRC catches it
		os.WriteFile(p, data, 0o644)
		expect(t, dir, CheckOptions{}, CodeRecordInvalid)
		// The writer reads only the log's tail and the checkpoint's
		// hashes (open is O(log n)): damage inside the checkpointed part
		// that leaves the hashes alone is the audit's to find.
	})
	t.Run("modifiedLogEnvelope", func(t *testing.T) {
		// The envelope in the log edited with the CRC recomputed and the
		// derived files rebuilt: the tree root betrays it.
		dir := buildArchive(t, env, 5)
		data, offs := entryRecords(t, dir)
		r, n, _ := parseRecord(data[offs[3]:], offs[3])
		r.Envelope = bytes.Replace(r.Envelope, []byte(`"size":`), []byte(`"size":1`), 1)
		out := append(append(append([]byte{}, data[:offs[3]]...), r.marshal()...), data[offs[3]+int64(n):]...)
		os.WriteFile(filepath.Join(dir, entriesFile), out, 0o644)
		rebuildDerived(t, dir)
		expect(t, dir, CheckOptions{}, CodeRootMismatch, CodeEntryMismatch, CodeChainPrevMismatch)
		expectWriterRefuses(t, env, dir)
	})
	t.Run("truncatedLog", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		_, offs := entryRecords(t, dir)
		os.Truncate(filepath.Join(dir, entriesFile), offs[len(offs)-2]) // two whole records gone
		res := expect(t, dir, CheckOptions{}, CodeTruncated)
		if !res.Has(CodeUnlistedFile) {
			t.Errorf("the files of the removed entries are not reported:\n%s", problemCodes(res))
		}
		expectWriterRefuses(t, env, dir)
	})
	t.Run("truncatedLogMidRecord", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		_, offs := entryRecords(t, dir)
		os.Truncate(filepath.Join(dir, entriesFile), offs[len(offs)-1]+10)
		expect(t, dir, CheckOptions{}, CodeTruncated, CodeRecordInvalid)
		expectWriterRefuses(t, env, dir)
	})
	t.Run("rewrittenCheckpointText", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		p := filepath.Join(dir, checkpointFile)
		data, _ := os.ReadFile(p)
		data = bytes.Replace(data, []byte("\n6\n"), []byte("\n5\n"), 1)
		os.WriteFile(p, data, 0o644)
		expect(t, dir, CheckOptions{}, CodeCheckpointInvalid)
		if _, err := OpenWriter(dir, env.opts(nil)); ReasonOf(err) != ReasonCorrupt {
			t.Fatalf("writer: %v", err)
		}
		r, err := OpenReader(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, _, err := r.Checkpoint(); ReasonOf(err) != ReasonBadSignature {
			t.Fatalf("reader: %v", err)
		}
	})
	for _, sameCA := range []bool{false, true} {
		t.Run(fmt.Sprintf("rewrittenCheckpointOtherKey/sameCA=%v", sameCA), func(t *testing.T) {
			// An attacker drops the last entry and re-signs a checkpoint with
			// a key of their own (added to keys/), even one the archive's own
			// CA issued: the key was not introduced by a rotation from the
			// archive's first key, so the checkpoint does not verify — no
			// trust anchor or witness needed.
			dir := buildArchive(t, env, 5)
			r, _ := OpenReader(dir)
			saved, _, _ := r.Checkpoint()
			r.Close()
			_, offs := entryRecords(t, dir)
			os.Truncate(filepath.Join(dir, entriesFile), offs[len(offs)-1])
			rebuildDerived(t, dir)
			os.Remove(filePath(dir, "rec.wav"))
			attackerCA := testpki.CA(t, testpki.Options{})
			if sameCA {
				attackerCA = env.ca
			}
			attacker := testpki.Signer(t, testpki.Leaf(t, attackerCA, testpki.Options{}))
			if _, err := writeKey(dir, attacker); err != nil {
				t.Fatal(err)
			}
			ns, _ := newNoteSigner(saved.Origin, attacker.Key, false)
			r, _ = OpenReader(dir)
			root, _ := r.TreeHash(r.Size())
			r.Close()
			msg, err := signCheckpoint(saved.Origin, 5, root, ns)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, checkpointFile), msg, 0o644)
			expect(t, dir, CheckOptions{}, CodeCheckpointInvalid, CodeKeyInvalid)
			expect(t, dir, CheckOptions{Roots: roots}, CodeCheckpointInvalid)
			expect(t, dir, CheckOptions{Witness: saved.Note}, CodeCheckpointInvalid, CodeInconsistentWitness)
			// Nor can the attacker's key open the archive for writing.
			if _, err := OpenWriter(dir, Options{Signer: attacker}); ReasonOf(err) != ReasonKeyNotAccepted {
				t.Errorf("writer with the attacker's key: %v", err)
			}
		})
	}
	t.Run("oldCheckpointPutBack", func(t *testing.T) {
		// The log keeps growing; someone puts an older (validly signed)
		// checkpoint back over the newest. Against a witness of the newer
		// one that is a rollback; and with or without a witness the
		// entries past the old checkpoint are reported as not covered,
		// not passed as if a checkpoint vouched for them.
		dir := buildArchive(t, env, 3)
		old, _ := os.ReadFile(filepath.Join(dir, checkpointFile))
		w, err := OpenWriter(dir, env.opts(nil))
		if err != nil {
			t.Fatal(err)
		}
		for i := 10; i < 12; i++ {
			if _, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		newer, _ := os.ReadFile(filepath.Join(dir, checkpointFile))
		if res := mustCheck(t, dir, CheckOptions{Witness: newer}); res.Has(CodeEntryNotCovered) {
			t.Fatal("entries reported uncovered before the rollback")
		}
		os.WriteFile(filepath.Join(dir, checkpointFile), old, 0o644)
		res := expect(t, dir, CheckOptions{Witness: newer}, CodeInconsistentWitness, CodeEntryNotCovered)
		var uncovered []int64
		for _, p := range res.Problems {
			if p.Code == CodeEntryNotCovered {
				uncovered = append(uncovered, p.Seq)
			}
		}
		if fmt.Sprint(uncovered) != "[5 6]" {
			t.Errorf("uncovered entries %v, want [5 6]", uncovered)
		}
		res = expect(t, dir, CheckOptions{}, CodeEntryNotCovered)
		if res.Has(CodeInconsistentWitness) {
			t.Error("inconsistent without a witness")
		}
	})
	t.Run("replacedKeyFile", func(t *testing.T) {
		dir := buildArchive(t, env, 2)
		des, _ := os.ReadDir(filepath.Join(dir, keysDir))
		other := newEnv(t)
		p := filepath.Join(dir, keysDir, des[0].Name())
		os.WriteFile(p, other.leaf.PEM(), 0o644)
		expect(t, dir, CheckOptions{}, CodeKeyInvalid, CodeCheckpointInvalid)
	})
	t.Run("modifiedHashes", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		p := filepath.Join(dir, hashesFile)
		data, _ := os.ReadFile(p)
		data[40] ^= 1
		os.WriteFile(p, data, 0o644)
		expect(t, dir, CheckOptions{}, CodeIndexMismatch)
	})
	t.Run("modifiedIndex", func(t *testing.T) {
		dir := buildArchive(t, env, 5)
		p := filepath.Join(dir, indexFile)
		data, _ := os.ReadFile(p)
		data[indexRecordLen*2+3] ^= 1
		os.WriteFile(p, data, 0o644)
		expect(t, dir, CheckOptions{}, CodeIndexMismatch)
	})
	t.Run("duplicatedEntry", func(t *testing.T) {
		// The same seal appended twice, with hashes and index rebuilt.
		dir := buildArchive(t, env, 3)
		data, offs := entryRecords(t, dir)
		r, _, _ := parseRecord(data[offs[1]:], offs[1])
		r.Seq = int64(len(offs) + 1)
		os.WriteFile(filepath.Join(dir, entriesFile), append(data, r.marshal()...), 0o644)
		rebuildDerived(t, dir)
		res := expect(t, dir, CheckOptions{}, CodeChainDuplicate)
		if !strings.Contains(problemCodes(res), "chain.gap") {
			t.Errorf("the seq mismatch is not reported:\n%s", problemCodes(res))
		}
	})
	t.Run("wrongPrevVersion", func(t *testing.T) {
		// Versions of two source names, interleaved with a third: entries
		// 1 a, 2 b, 3 a, 4 c, 5 b, 6 a. Each case rewrites one record's
		// prevVersion (the CRC recomputed, as a forger would).
		build := func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "archive")
			w, err := Create(dir, env.opts(nil))
			if err != nil {
				t.Fatal(err)
			}
			for i, name := range []string{"a", "b", "a", "c", "b", "a"} {
				src := "events/" + name + ".json"
				if _, err := w.Ingest(env.writeJSON(src, i+1), src); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			mustCheck(t, dir, CheckOptions{}) // versions are no finding
			return dir
		}
		for _, tc := range []struct {
			name      string
			seq, prev int64
		}{
			{"skips a version", 6, 1},
			{"first version claims one", 2, 1},
			{"later version claims none", 5, 0},
			{"names another source", 4, 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dir := build(t)
				data, offs := entryRecords(t, dir)
				r, n, _ := parseRecord(data[offs[tc.seq-1]:], offs[tc.seq-1])
				r.PrevVersion = tc.prev
				out := append([]byte{}, data[:offs[tc.seq-1]]...)
				out = append(out, r.marshal()...)
				out = append(out, data[offs[tc.seq-1]+int64(n):]...)
				writable(t, filepath.Join(dir, entriesFile))
				os.WriteFile(filepath.Join(dir, entriesFile), out, 0o644)
				res := expect(t, dir, CheckOptions{}, CodeRecordInvalid)
				for _, p := range res.Problems {
					if p.Code != CodeRecordInvalid || p.Seq != tc.seq {
						t.Errorf("unexpected problem %v", p)
					}
				}
			})
		}
	})
}
