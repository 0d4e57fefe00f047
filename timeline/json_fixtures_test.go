package timeline_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tlseal/tlseal/timeline"
)

// TestJSONFixtures: every JSON fixture seals, opens without problems and
// gives its exact bytes back.
func TestJSONFixtures(t *testing.T) {
	files, _ := filepath.Glob("../testdata/json/*.json")
	if len(files) < 10 {
		t.Fatalf("only %d JSON fixtures", len(files))
	}
	s := testSigner(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			orig := mustRead(t, f)
			sealed, _, err := sealBytes(t, s, filepath.Base(f), orig)
			if err != nil {
				t.Fatal(err)
			}
			o, err := timeline.Open(bytes.NewReader(sealed), int64(len(sealed)))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range o.Problems {
				if p.Code != timeline.CodeJSONDuplicateKey {
					t.Errorf("%s: %s", p.Code, p.Detail)
				}
			}
			if want := filepath.Base(f) == "duplicate-keys.json" || filepath.Base(f) == "long-key.json"; want != o.Has(timeline.CodeJSONDuplicateKey) {
				t.Errorf("duplicate key reported: %v, want %v", !want, want)
			}
			r, err := o.Original()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r)
			if !bytes.Equal(got, orig) {
				t.Fatal("original not restored byte for byte")
			}
		})
	}
}

// A RIFF file of 4 GiB or more is refused clearly (sparse file: no disk used).
func TestSealRefusesFourGiB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("RIFF\xf8\xff\xff\xffWAVEdata\xff\xff\xff\xff"))
	if err := f.Truncate(1<<32 + 100); err != nil {
		t.Skipf("cannot make a sparse file here: %v", err)
	}
	f.Close()
	_, err = timeline.SealFile(path, path+".sealed", false, timeline.SealOptions{Name: "huge.wav", Signer: testSigner(t)})
	if !isReason(err, timeline.ReasonTooLarge) {
		t.Fatalf("got %v, want too large", err)
	}
	if _, err := os.Stat(path + ".sealed"); !os.IsNotExist(err) {
		t.Error("output written")
	}
}
