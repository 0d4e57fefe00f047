package archive

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func FuzzParseRecord(f *testing.F) {
	f.Add((&record{Seq: 1, ArchiveName: "a.json", Envelope: []byte(`{"v":1}`)}).marshal())
	f.Add((&record{Seq: 9, PrevVersion: 3, SealedSize: 1 << 40, ArchiveName: "d/e/f.wav", Envelope: bytes.Repeat([]byte("x"), 300)}).marshal())
	// Version 2: with notes.
	f.Add((&record{Seq: 2, PrevVersion: 1, SealedSize: 77, ArchiveName: "w/cut.wav", Envelope: []byte(`{"v":1}`),
		Notes: []Note{{Code: "watch.incomplete", Severity: NoteWarning, Message: "cut short"}}}).marshal())
	f.Add((&record{Seq: 4, ArchiveName: "n.json", Envelope: []byte(`{}`), Notes: testNotes}).marshal())
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := parseRecord(b, 0)
		if err != nil {
			if r != nil {
				t.Fatal("record with error")
			}
			return
		}
		if n > len(b) || n < recordOverhead+recordFixed {
			t.Fatalf("length %d of %d", n, len(b))
		}
		if got := r.marshal(); !bytes.Equal(got, b[:n]) {
			t.Fatal("a parsed record does not marshal back to its bytes")
		}
		if checkArchiveName(r.ArchiveName) != nil {
			t.Fatal("invalid name accepted")
		}
		if r.Notes != nil && CheckNotes(r.Notes) != nil {
			t.Fatal("invalid notes accepted")
		}
		if want := byte(1 + btoi(r.Notes != nil)); b[4] != want {
			t.Fatalf("version %d record with %d notes", b[4], len(r.Notes))
		}
	})
}

func FuzzParseNotes(f *testing.F) {
	f.Add(marshalNotes(testNotes))
	f.Add([]byte(`[{"code":"a.b","message":"","severity":"error"}]`))
	f.Add([]byte(`[{"code":"a.b","message":"\u00e9","severity":"error"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ns, err := parseNotes(b)
		if err != nil {
			if ns != nil {
				t.Fatal("notes with error")
			}
			return
		}
		if err := CheckNotes(ns); err != nil {
			t.Fatalf("invalid notes accepted: %v", err)
		}
		if !bytes.Equal(marshalNotes(ns), b) {
			t.Fatal("notes do not round-trip")
		}
	})
}

func FuzzParseIndexRecord(f *testing.F) {
	f.Add((&indexRecord{Offset: 100, Length: 900, Seq: 3, NameHash: 1, SrcHash: 2}).marshal(), int64(2))
	f.Add(make([]byte, 32), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, i int64) {
		if i < 0 || i > 1<<40 {
			return
		}
		x, err := parseIndexRecord(b, i)
		if err != nil {
			return
		}
		if !bytes.Equal(x.marshal(), b[:indexRecordLen]) || x.Seq != i+1 {
			t.Fatal("index record does not round-trip")
		}
	})
}

func FuzzParsePending(f *testing.F) {
	f.Add((&pending{Seq: 5, ArchiveName: "x/y.json"}).marshal())
	f.Add([]byte("PND1"))
	f.Add((&pending{Seq: 6, ArchiveName: "w/cut.wav", Notes: testNotes}).marshal())
	f.Add([]byte("PND2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePending(b)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(b, p.marshal()) {
			t.Fatal("pending does not round-trip")
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := newNoteSigner("tlseal.local/x", key, false)
	msg, _ := signCheckpoint("tlseal.local/x", 42, tlog.Hash{1, 2, 3}, s)
	f.Add(msg)
	f.Add([]byte("tlseal.local/x\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— tlseal.local/x AAAAAAAA\n"))
	f.Add([]byte("o\n01\nAA==\nextra\n\n— o AAAAAQ==\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := ParseCheckpoint(b); err == nil {
			if _, err := ParseCheckpointBody(c.Body()); err != nil {
				t.Fatalf("a parsed body does not reparse: %v", err)
			}
			if c.Size < 0 {
				t.Fatal("negative size")
			}
		}
		if c, err := OpenCheckpoint(b, "tlseal.local/x", key.Public()); err == nil {
			if c.Origin != "tlseal.local/x" || c.KeyHash != s.hash {
				t.Fatal("wrong checkpoint accepted")
			}
		}
		if c, err := ParseCheckpointBody(b); err == nil {
			if !bytes.Equal(c.Body(), b) {
				t.Fatalf("body does not round-trip: %q", b)
			}
		}
	})
}

func FuzzParseProof(f *testing.F) {
	p := &Proof{Index: 3, Hashes: []tlog.Hash{{1}, {2}}, Checkpoint: []byte("o\n5\nAAAA\n\n— o AAAA\n"), Extra: []byte(`{"v":1}`)}
	f.Add(p.Marshal())
	p.Extra = nil
	f.Add(p.Marshal())
	f.Add([]byte(ProofHeader + "\nindex 0\n\nx"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatalf("proof does not round-trip: %q", b)
		}
		VerifyProof(p, "o", nil) // must not panic
	})
}

func FuzzCheckArchiveName(f *testing.F) {
	for _, s := range []string{"a", "a/b.json", "../x", "a//b", "", ".", "é/ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkArchiveName(s) != nil {
			return
		}
		for k := 2; k < 4; k++ {
			if err := checkArchiveName(VersionName(s, k)); err != nil && len(VersionName(s, k)) <= maxNameLen {
				t.Fatalf("VersionName(%q, %d) = %q is invalid: %v", s, k, VersionName(s, k), err)
			}
		}
	})
}
