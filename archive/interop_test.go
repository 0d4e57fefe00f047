package archive

import (
	"bytes"
	"path/filepath"
	"testing"

	fmtlog "github.com/transparency-dev/formats/log"
	fmtnote "github.com/transparency-dev/formats/note"
	fmtproof "github.com/transparency-dev/formats/proof"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/tlseal/tlseal/internal/testpki"
)

// TestInteropTransparencyDev checks the archive's checkpoints with
// transparency-dev/formats (note.NewECDSAVerifier, log.ParseCheckpoint),
// its tlog-proofs with formats/proof, and its inclusion and consistency
// proofs with transparency-dev/merkle, for P-256 and P-384 signers.
func TestInteropTransparencyDev(t *testing.T) {
	for _, curve := range []string{"P-256", "P-384"} {
		t.Run(curve, func(t *testing.T) {
			env := newEnv(t)
			if curve == "P-384" {
				env.leaf = testpki.Leaf(t, env.ca, testpki.Options{Curve: p384()})
				env.signer = testpki.Signer(t, env.leaf)
			}
			dir := filepath.Join(t.TempDir(), "a")
			w, err := Create(dir, env.opts(nil))
			if err != nil {
				t.Fatal(err)
			}
			var old *Checkpoint
			for i := 1; i <= 21; i++ {
				if _, err := w.Ingest(env.writeJSON(eventName(i), i), eventName(i)); err != nil {
					t.Fatal(err)
				}
				if i == 7 {
					if old, err = w.Checkpoint(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := OpenReader(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			cp, key, err := r.Checkpoint()
			if err != nil {
				t.Fatal(err)
			}
			vkey, err := key.VerifierKey(cp.Origin)
			if err != nil {
				t.Fatal(err)
			}
			v, err := fmtnote.NewECDSAVerifier(vkey)
			if err != nil {
				t.Fatalf("formats rejects the verifier key %q: %v", vkey, err)
			}
			if v2, err := fmtnote.NewVerifier(vkey); err != nil || v2.KeyHash() != v.KeyHash() {
				t.Fatalf("formats NewVerifier: %v", err)
			}
			got, _, _, err := fmtlog.ParseCheckpoint(cp.Note, cp.Origin, v)
			if err != nil {
				t.Fatalf("formats rejects the checkpoint: %v\n%s", err, cp.Note)
			}
			if got.Size != uint64(cp.Size) || !bytes.Equal(got.Hash, cp.Root[:]) || got.Origin != cp.Origin {
				t.Fatalf("formats reads %+v, the archive wrote %+v", got, cp)
			}
			// A tampered checkpoint is refused by formats too.
			bad := bytes.Replace(cp.Note, []byte("\n21\n"), []byte("\n20\n"), 1)
			if _, _, _, err := fmtlog.ParseCheckpoint(bad, cp.Origin, v); err == nil {
				t.Fatal("formats accepts a tampered checkpoint")
			}

			for i := int64(0); i < r.Size(); i++ {
				e, err := r.Entry(i)
				if err != nil {
					t.Fatal(err)
				}
				p, err := r.Prove(e)
				if err != nil {
					t.Fatal(err)
				}
				var tp fmtproof.TLogProof
				if err := tp.Unmarshal(p.Marshal()); err != nil {
					t.Fatalf("formats/proof rejects the tlog-proof: %v", err)
				}
				if tp.Index != uint64(i) || !bytes.Equal(tp.ExtraData, e.EnvelopeBytes) || !bytes.Equal(tp.Checkpoint, cp.Note) {
					t.Fatalf("formats/proof reads index %d, extra %d bytes", tp.Index, len(tp.ExtraData))
				}
				pc, _, _, err := fmtlog.ParseCheckpoint(tp.Checkpoint, cp.Origin, v)
				if err != nil {
					t.Fatal(err)
				}
				hashes := make([][]byte, len(tp.Hashes))
				for j := range tp.Hashes {
					hashes[j] = tp.Hashes[j][:]
				}
				leaf := rfc6962.DefaultHasher.HashLeaf(tp.ExtraData)
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, tp.Index, pc.Size, leaf, hashes, pc.Hash); err != nil {
					t.Fatalf("merkle rejects the inclusion proof of entry %d: %v", i, err)
				}
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, tp.Index, pc.Size, rfc6962.DefaultHasher.HashLeaf([]byte("other")), hashes, pc.Hash); err == nil {
					t.Fatal("merkle accepts the proof for another leaf")
				}
			}

			// Consistency between the two checkpoints, checked by merkle.
			cproof, err := r.ConsistencyProof(old.Size, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			hashes := make([][]byte, len(cproof))
			for j := range cproof {
				hashes[j] = cproof[j][:]
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old.Size), uint64(cp.Size), hashes, old.Root[:], cp.Root[:]); err != nil {
				t.Fatalf("merkle rejects the consistency proof: %v", err)
			}
			// And our own verifier accepts what formats produced verifiers for.
			if _, err := OpenCheckpoint(cp.Note, cp.Origin, key.Cert.PublicKey); err != nil {
				t.Fatal(err)
			}
		})
	}
}
