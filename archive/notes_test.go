package archive

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/timeline"
)

var testNotes = []Note{
	{Code: "watch.incomplete", Severity: NoteWarning, Message: "sealed as it was after 1m0s (RIFF size placeholder)"},
	{Code: "vendor.noteTwo", Severity: NoteInfo, Message: "tab\there \"quoted\" \\ é <&> \x01"},
}

// v1Bytes encodes a record by hand, as docs/archive.md describes version 1:
// an archive without notes must keep exactly these bytes.
func v1Bytes(seq, prev, size int64, name string, env []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(31+len(name)+len(env)))
	b = append(b, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = binary.BigEndian.AppendUint64(b, uint64(prev))
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(env)))
	b = append(b, env...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func TestRecordVersions(t *testing.T) {
	env := []byte(`{"v":1}`)
	// No notes (nil or empty): version 1, byte for byte.
	for _, notes := range [][]Note{nil, {}} {
		r := &record{Seq: 3, PrevVersion: 1, SealedSize: 99, ArchiveName: "a/b.json", Envelope: env, Notes: notes}
		if got, want := r.marshal(), v1Bytes(3, 1, 99, "a/b.json", env); !bytes.Equal(got, want) {
			t.Fatalf("record without notes:\n got %x\nwant %x", got, want)
		}
	}

	// Version 2: version 1's fields, then the notes' length and bytes.
	notes := []Note{{Code: "watch.incomplete", Severity: "warning", Message: "cut"}}
	r := &record{Seq: 3, PrevVersion: 1, SealedSize: 99, ArchiveName: "a/b.json", Envelope: env, Notes: notes}
	js := `[{"code":"watch.incomplete","message":"cut","severity":"warning"}]`
	var want []byte
	want = binary.BigEndian.AppendUint32(want, uint32(35+len("a/b.json")+len(env)+len(js)))
	want = append(want, 2)
	want = append(want, v1Bytes(3, 1, 99, "a/b.json", env)[5:]...)
	want = want[:len(want)-4] // v1's CRC
	want = binary.BigEndian.AppendUint32(want, uint32(len(js)))
	want = append(want, js...)
	want = binary.BigEndian.AppendUint32(want, crc32.Checksum(want, castagnoli))
	b := r.marshal()
	if !bytes.Equal(b, want) {
		t.Fatalf("version 2 record:\n got %x\nwant %x", b, want)
	}
	got, n, err := parseRecord(append(b, 0xAA), 0)
	if err != nil || n != len(b) || !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip: %+v %d %v", got, n, err)
	}

	// Notes with every kind of character round-trip.
	r.Notes = testNotes
	got, _, err = parseRecord(r.marshal(), 0)
	if err != nil || !reflect.DeepEqual(got.Notes, testNotes) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
}

func TestNotesCanonical(t *testing.T) {
	b := marshalNotes(testNotes)
	want := `[{"code":"watch.incomplete","message":"sealed as it was after 1m0s (RIFF size placeholder)","severity":"warning"},` +
		`{"code":"vendor.noteTwo","message":"tab\there \"quoted\" \\ é <&> \u0001","severity":"info"}]`
	if string(b) != want {
		t.Fatalf("encoding:\n got %s\nwant %s", b, want)
	}
	if ns, err := parseNotes(b); err != nil || !reflect.DeepEqual(ns, testNotes) {
		t.Fatalf("parse: %+v %v", ns, err)
	}
	ok := `{"code":"a.b","message":"m","severity":"info"}`
	for _, bad := range []string{
		``, `[]`, `null`, `{}`, `[null]`, `[` + ok + `,]`, ` [` + ok + `]`, `[` + ok + `] `,
		`[{"code": "a.b","message":"m","severity":"info"}]`,                     // whitespace
		`[{"code":"a.b","severity":"info","message":"m"}]`,                      // member order
		`[{"Code":"a.b","message":"m","severity":"info"}]`,                      // member spelling
		`[{"code":"a.b","code":"a.b","message":"m","severity":"info"}]`,         // duplicate member
		`[{"code":"a.b","message":"m","severity":"info","x":1}]`,                // unknown member
		`[{"code":"a.b","severity":"info"}]`,                                    // missing member
		`[{"code":"a.b","message":"\u006d","severity":"info"}]`,                 // needless escape
		`[{"code":"a.b","message":"m","severity":"notice"}]`,                    // severity
		`[{"code":"ab","message":"m","severity":"info"}]`,                       // not dotted
		`[{"code":"a..b","message":"m","severity":"info"}]`,                     // empty word
		`[{"code":"A.b","message":"m","severity":"info"}]`,                      // capital first
		`[{"code":"a.b-c","message":"m","severity":"info"}]`,                    // punctuation
		`[{"code":"a.b","message":1,"severity":"info"}]`,                        // not a string
		"[{\"code\":\"a.b\",\"message\":\"\xff\",\"severity\":\"info\"}]",       // invalid UTF-8
		`[{"code":"a.b","message":"` + strings.Repeat("m", maxNotesLen) + `"}]`, // too long
	} {
		if ns, err := parseNotes([]byte(bad)); err == nil {
			t.Errorf("parseNotes(%.80q) accepted: %+v", bad, ns)
		}
	}
	for _, n := range []Note{
		{Code: "", Severity: "info"}, {Code: "watch", Severity: "info"}, {Code: "watch.", Severity: "info"},
		{Code: "watch.incomplete", Severity: "WARNING"}, {Code: "watch.incomplete", Severity: "info", Message: "\xc3"},
		{Code: "a." + strings.Repeat("b", maxNoteCodeLen), Severity: "info"},
		{Code: "a.b", Severity: "info", Message: strings.Repeat("m", maxNotesLen)},
	} {
		if CheckNotes([]Note{n}) == nil {
			t.Errorf("CheckNotes accepted %+v", n)
		}
	}
	if CheckNotes(nil) == nil {
		t.Error("CheckNotes accepted no notes")
	}
}

func TestPendingVersions(t *testing.T) {
	p := &pending{Seq: 7, ArchiveName: "d/x.json"}
	b := p.marshal()
	if string(b[:4]) != "PND1" || len(b) != 4+8+2+8+4 {
		t.Fatalf("pending without notes: %q", b)
	}
	p.Notes = testNotes
	b = p.marshal()
	if string(b[:4]) != "PND2" {
		t.Fatalf("pending with notes: %q", b[:4])
	}
	// Overwritten in place: the bytes of a longer earlier record follow.
	got, err := parsePending(append(b, bytes.Repeat([]byte{7}, 50)...))
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for i := 1; i < len(b); i++ {
		if _, err := parsePending(b[:i]); err == nil {
			t.Fatalf("a pending record cut to %d bytes parses", i)
		}
	}
}

// ingestNoted makes an archive of n entries where entry withNotes (1-based)
// has testNotes, closed.
func ingestNoted(t *testing.T, env *testEnv, n, withNotes int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "archive")
	w, err := Create(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		var notes []Note
		if i == withNotes {
			notes = testNotes
		}
		e, err := w.IngestWithNotes(env.writeJSON(eventName(i), i), eventName(i), notes)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(e.Notes, notes) {
			t.Fatalf("Ingest returned notes %+v", e.Notes)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestIngestWithNotes(t *testing.T) {
	env := newEnv(t)
	dir := ingestNoted(t, env, 3, 2)
	data, offs := entryRecords(t, dir)
	for i, off := range offs {
		if v, want := data[off+4], byte(1+btoi(i == 1)); v != want {
			t.Errorf("record %d has version %d, want %d", i+1, v, want)
		}
	}
	wantNotes := func(e *Entry) {
		t.Helper()
		var want []Note
		if e.Seq == 2 {
			want = testNotes
		}
		if !reflect.DeepEqual(e.Notes, want) {
			t.Errorf("entry %d: notes %+v, want %+v", e.Seq, e.Notes, want)
		}
	}

	// After a reopen: a writer appends after it, readers see the notes.
	w := openFor(t, env, dir, nil)
	if _, err := w.Ingest(env.writeJSON(eventName(4), 4), eventName(4)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.IngestWithNotes(env.writeJSON("bad.json", 5), "bad.json", []Note{{Code: "nodot", Severity: "info"}}); ReasonOf(err) != ReasonInvalidArgument {
		t.Fatalf("invalid notes: %v", err)
	}
	w.Close()
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range r.Size() {
		e, err := r.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		wantNotes(e)
	}
	n := 0
	for e, err := range r.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		wantNotes(e)
		n++
	}
	for _, name := range []string{eventName(2), "files/" + eventName(2)} {
		if e, err := r.Lookup(strings.TrimPrefix(name, "files/")); err != nil || e.Seq != 2 {
			t.Fatalf("Lookup(%s): %v", name, err)
		} else {
			wantNotes(e)
		}
	}
	// The leaf is the envelope alone: the notes change no hash or proof.
	e, _ := r.Entry(1)
	if e.LeafHash != tlog.RecordHash(e.EnvelopeBytes) {
		t.Fatal("the leaf hash covers more than the envelope")
	}
	p, err := r.Prove(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyProof(p, r.Metadata().Origin, e.EnvelopeBytes, env.signer.Cert.PublicKey); err != nil {
		t.Fatal(err)
	}

	seen := map[int64][]Note{}
	var mu sync.Mutex
	res := mustCheck(t, dir, CheckOptions{JudgeSeal: func(e *Entry, _ string, _ *timeline.Opened) {
		mu.Lock()
		seen[e.Seq] = e.Notes
		mu.Unlock()
	}})
	if res.Size != 4 || len(seen) != 4 || !reflect.DeepEqual(seen[2], testNotes) || seen[1] != nil || seen[4] != nil {
		t.Fatalf("Check: size %d, notes seen %+v", res.Size, seen)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// An archive without notes is all version 1 records and checks clean.
func TestArchiveWithoutNotesIsVersion1(t *testing.T) {
	env := newEnv(t)
	dir := buildArchive(t, env, 3)
	data, offs := entryRecords(t, dir)
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, off := range offs {
		e, err := r.Entry(int64(i))
		if err != nil {
			t.Fatal(err)
		}
		if want := v1Bytes(e.Seq, e.PrevVersion, e.SealedSize, e.ArchiveName, e.EnvelopeBytes); !bytes.Equal(data[off:off+int64(e.Length)], want) {
			t.Fatalf("record %d is not the version 1 encoding", i+1)
		}
		if e.Notes != nil {
			t.Fatalf("entry %d has notes", e.Seq)
		}
	}
	mustCheck(t, dir, CheckOptions{})
}

// Damaged notes (CRC recomputed, so only the notes are wrong) make the
// record invalid: Check says log.recordInvalid, readers refuse the entry.
func TestTamperNotes(t *testing.T) {
	env := newEnv(t)
	for _, tc := range []struct {
		name string
		edit func(rec []byte) []byte
	}{
		{"severity changed to an unknown one", func(rec []byte) []byte {
			return bytes.Replace(rec, []byte(`"warning"`), []byte(`"WARNING"`), 1)
		}},
		{"non-canonical spacing", func(rec []byte) []byte {
			return bytes.Replace(rec, []byte(`"code":"watch`), []byte(`"code" :"watch`), 1)
		}},
		{"invalid UTF-8", func(rec []byte) []byte {
			return bytes.Replace(rec, []byte("é"), []byte{0xff, 0xfe}, 1)
		}},
		{"code not dotted", func(rec []byte) []byte {
			return bytes.Replace(rec, []byte(`watch.incomplete`), []byte(`watch_incomplete`), 1)
		}},
		{"notes length off by one", func(rec []byte) []byte {
			i := bytes.Index(rec, []byte(`[{"code"`)) - 4
			binary.BigEndian.PutUint32(rec[i:], binary.BigEndian.Uint32(rec[i:])-1)
			return rec
		}},
		{"version 2 without notes", func(rec []byte) []byte {
			i := bytes.Index(rec, []byte(`[{"code"`)) - 4
			rec = rec[:i+4]
			binary.BigEndian.PutUint32(rec[i:], 0)
			binary.BigEndian.PutUint32(rec, uint32(len(rec)+4-8))
			return append(rec, 0, 0, 0, 0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := ingestNoted(t, env, 3, 2)
			data, offs := entryRecords(t, dir)
			rec := append([]byte(nil), data[offs[1]:offs[2]]...)
			rec = tc.edit(rec)
			binary.BigEndian.PutUint32(rec[len(rec)-4:], crc32.Checksum(rec[:len(rec)-4], castagnoli))
			out := append(append(append([]byte(nil), data[:offs[1]]...), rec...), data[offs[2]:]...)
			if err := os.WriteFile(filepath.Join(dir, entriesFile), out, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, _, err := parseRecord(rec, 0); err == nil {
				t.Fatal("the damaged record parses")
			}
			if int64(len(rec)) == offs[2]-offs[1] {
				// Same length: the index still points at it.
				r, err := OpenReader(dir)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := r.Entry(1); ReasonOf(err) != ReasonCorrupt {
					t.Errorf("Entry: %v", err)
				}
				r.Close()
			}
			res := expect(t, dir, CheckOptions{}, CodeRecordInvalid)
			if res.Has(CodeTornTail) {
				t.Error("damaged notes taken for a torn append")
			}
		})
	}
}

// A record of a later version (intact) is not a torn append: nothing is
// truncated.
func TestUnknownRecordVersionNotTorn(t *testing.T) {
	env := newEnv(t)
	dir := buildArchive(t, env, 2)
	w := openFor(t, env, dir, nil)
	if _, err := w.Ingest(env.writeJSON(eventName(9), 9), eventName(9)); err != nil {
		t.Fatal(err)
	}
	abandon(w) // the last record is after the checkpoint
	data, offs := entryRecords(t, dir)
	last := offs[len(offs)-1]
	data[last+4] = 3
	binary.BigEndian.PutUint32(data[len(data)-4:], crc32.Checksum(data[last:len(data)-4], castagnoli))
	os.WriteFile(filepath.Join(dir, entriesFile), data, 0o644)
	res := expect(t, dir, CheckOptions{}, CodeRecordInvalid)
	if res.Has(CodeTornTail) {
		t.Error("an intact record of a later version taken for a torn append")
	}
	if _, err := OpenWriter(dir, env.opts(nil)); ReasonOf(err) != ReasonCorrupt {
		t.Fatalf("OpenWriter: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, entriesFile)); !bytes.Equal(got, data) {
		t.Fatal("the log was truncated")
	}
}
