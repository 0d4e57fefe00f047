package jsonio_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/jsonio"
)

func TestScanStructure(t *testing.T) {
	in := ` {"a" : 1 , "b":[{"x":"}"}],"se\u0061l":{"v":1}} `
	d, err := jsonio.Scan([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if d.Members != 3 || d.Open != 1 || d.Close != int64(strings.LastIndex(in, "}")) {
		t.Fatalf("doc %+v", d)
	}
	if d.First.Key != "a" || d.First.SepOffset != -1 || in[d.First.ValueStart:d.First.ValueEnd] != "1" {
		t.Errorf("first %+v", d.First)
	}
	if d.Last.Key != "seal" || in[d.Last.KeyStart:d.Last.KeyEnd] != `"se\u0061l"` || in[d.Last.ValueStart:d.Last.ValueEnd] != `{"v":1}` {
		t.Errorf("last %+v", d.Last)
	}
	if in[d.Last.SepOffset] != ',' || d.SealKeys != 1 {
		t.Errorf("sep %d sealKeys %d", d.Last.SepOffset, d.SealKeys)
	}
}

func TestScanErrors(t *testing.T) {
	cases := map[string]string{
		"":               "not JSON",
		"[]":             "not a JSON object",
		`{"a":1`:         "unexpected end",
		`{"a":1}x`:       "data after",
		`{"a":1]`:        "mismatched",
		`{a:1}`:          "expected a string key",
		`{"a" 1}`:        "expected ':'",
		`{"a":tru}`:      "invalid literal",
		`{"a":"\x"}`:     "invalid escape",
		`{"a":"\u12g4"}`: "invalid \\u escape",
		`{"a":1.}`:       "digit expected",
		`{"a":-}`:        "invalid number",
		"\xef\xbb{}":     "byte order mark",
	}
	for in, want := range cases {
		_, err := jsonio.Scan([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", in, err, want)
		}
	}
	if _, err := jsonio.Scan([]byte("[1]")); !errors.Is(err, jsonio.ErrNotObject) {
		t.Errorf("array: %v", err)
	}
}

func TestSplice(t *testing.T) {
	for _, orig := range []string{`{}`, `{"a":1}`, "{\"a\":1 \n}\n", " { } "} {
		d, _ := jsonio.Scan([]byte(orig))
		sealed := orig[:d.Close] + string(jsonio.SealSplice(d.Members > 0, []byte(`{"v":1}`))) + orig[d.Close:]
		sd, err := jsonio.Scan([]byte(sealed))
		if err != nil {
			t.Fatalf("%q: %v", sealed, err)
		}
		sp, err := jsonio.LocateSeal(sd, []byte(sealed[sd.Last.KeyStart:sd.Last.ValueStart]))
		if err != nil {
			t.Fatalf("%q: %v", sealed, err)
		}
		if back := sealed[:sp.Cut] + sealed[sp.Resume:]; back != orig {
			t.Errorf("split %q gives %q, want %q", sealed, back, orig)
		}
		if sealed[sp.EnvStart:sp.EnvEnd] != `{"v":1}` || sp.OriginalSize(int64(len(sealed))) != int64(len(orig)) {
			t.Errorf("envelope span or size wrong for %q", sealed)
		}
	}
}

// bigObject streams a JSON object of about n bytes without holding it.
type bigObject struct {
	n, off int64
	closed bool
}

func (b *bigObject) Read(p []byte) (int, error) {
	if b.closed {
		return 0, io.EOF
	}
	const member = `"k":[1,2.5e3,"string with \" escape",true,null,{"x":-1}],`
	i := 0
	if b.off == 0 {
		p[0] = '{'
		i = 1
	}
	for i+len(member) < len(p) && b.off+int64(i) < b.n {
		i += copy(p[i:], member)
	}
	if b.off+int64(i) >= b.n && i+len(`"end":0}`) <= len(p) {
		i += copy(p[i:], `"end":0}`)
		b.closed = true
	}
	b.off += int64(i)
	return i, nil
}

// The scanner is linear and streaming: a 200 MB object goes through in
// one pass with constant memory.
func TestScan200MB(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	size := int64(200 << 20)
	if raceEnabled {
		size = 20 << 20
	}
	s := jsonio.NewScanner()
	start := time.Now()
	n, err := io.CopyBuffer(s, &bigObject{n: size}, make([]byte, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if d.Size != n || d.Last.Key != "end" || d.Members < int(size/80) {
		t.Fatalf("size %d/%d, last %q, members %d", d.Size, n, d.Last.Key, d.Members)
	}
	t.Logf("%d MB in %v (%.0f MB/s)", n>>20, time.Since(start), float64(n)/1e6/time.Since(start).Seconds())
}

// TestScanDuplicates: each duplicated top-level key is listed once, in the
// order of its second occurrence, however many keys the object has (the
// first few are counted apart from the rest).
func TestScanDuplicates(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"k0":0`)
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&b, `,"k%d":%d`, i, i)
	}
	// k3 repeats among the first keys, k30 among the later ones, k5 thrice;
	// "k\u0031" is k1 spelled with an escape.
	b.WriteString(`,"k30":1,"k3":1,"k5":1,"k5":2,"k\u0031":1,"x":{"k0":1,"k0":2}}`)
	d, err := jsonio.Scan([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(d.Duplicates, " "), "k30 k3 k5 k1"; got != want {
		t.Errorf("duplicates %q, want %q", got, want)
	}
}
