package verify_test

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/verify"
)

// An inclusion proof checked offline: each way it can be wrong is caught.
func TestCheckProof(t *testing.T) {
	ca := testpki.CA(t, testpki.Options{})
	a := testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{CN: "recorder a"}))
	b := testpki.Signer(t, testpki.Leaf(t, ca, testpki.Options{CN: "recorder b"}))
	dir := filepath.Join(t.TempDir(), "ev")
	files := map[string][]byte{}
	for i := range 3 {
		files[string(rune('a'+i))+".json"] = samples.EventJSON(i, time.Unix(int64(i), 0), "x.wav")
	}
	buildArchive(t, dir, archive.Options{}, batch{a, files})
	prove := func(name string) []byte {
		r, err := archive.OpenReader(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		e, err := r.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.Prove(e)
		if err != nil {
			t.Fatal(err)
		}
		return p.Marshal()
	}
	proofA := prove("a.json")
	trust := verify.NewTrust([]*x509.Certificate{ca.Cert})
	other := verify.NewTrust([]*x509.Certificate{testpki.CA(t, testpki.Options{CN: "Other"}).Cert})
	check := func(file string, proof []byte, certs []*x509.Certificate, tr *verify.Trust) *verify.ItemResult {
		it, err := verify.File(filepath.Join(dir, "files", file), tr)
		if err != nil {
			t.Fatal(err)
		}
		verify.CheckProof(it, proof, certs, tr)
		return it
	}
	// One hash of the audit path changed (base64 of another value).
	lines := bytes.Split(proofA, []byte("\n"))
	edited := slices.Clone(lines)
	for i, l := range edited {
		if bytes.HasPrefix(l, []byte("index ")) {
			edited[i+1] = []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
			break
		}
	}
	badPath := bytes.Join(edited, []byte("\n"))
	badSig := bytes.Clone(proofA)
	badSig[len(badSig)-10] ^= 1 // inside the signature's base64

	// After a rotation to b, a newer proof's checkpoint is signed by b.
	src := t.TempDir()
	w, err := archive.OpenWriter(dir, archive.Options{Signer: b, PreviousSigner: a, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "d.json"), samples.EventJSON(9, time.Unix(9, 0), "x.wav"), 0o644)
	if _, err := w.Ingest(filepath.Join(src, "d.json"), "d.json"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	rotated := prove("a.json")

	for _, c := range []struct {
		name    string
		file    string
		proof   []byte
		certs   []*x509.Certificate
		trust   *verify.Trust
		want    string
		verdict verify.Verdict
	}{
		{"valid", "a.json", proofA, nil, trust, "", verify.Passed},
		{"another file", "b.json", proofA, nil, trust, verify.CodeProofLeafMismatch, verify.Failed},
		{"audit path edited", "a.json", badPath, nil, trust, verify.CodeProofInvalid, verify.Failed},
		{"signature edited", "a.json", badSig, nil, trust, verify.CodeProofInvalid, verify.Failed},
		{"not a proof", "a.json", []byte("hello\n"), nil, trust, verify.CodeProofInvalid, verify.Failed},
		{"no anchor", "a.json", proofA, nil, verify.NewTrust(nil), verify.CodeProofUntrusted, verify.Indeterminate},
		{"other CA", "a.json", proofA, nil, other, verify.CodeProofUntrusted, verify.Indeterminate},
		{"rotated key unknown", "a.json", rotated, nil, trust, verify.CodeProofKeyUnknown, verify.Indeterminate},
		{"rotated key given", "a.json", rotated, []*x509.Certificate{b.Cert}, trust, "", verify.Passed},
	} {
		it := check(c.file, c.proof, c.certs, c.trust)
		var got []string
		for _, f := range it.Findings {
			got = append(got, f.Code)
		}
		if it.Verdict != c.verdict || c.want != "" && !slices.Contains(got, c.want) || c.want == "" && len(got) != 0 {
			t.Errorf("%s: %s %v, want %s %s", c.name, it.Verdict, got, c.verdict, c.want)
		}
	}
}
