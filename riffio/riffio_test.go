package riffio_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/tlseal/tlseal/riffio"
)

func le(n uint32) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], n)
	return string(b[:])
}

func riff(sizeField uint32, body string) []byte {
	return []byte("RIFF" + le(sizeField) + "WAVE" + body)
}

func TestWalk(t *testing.T) {
	fmtChunk := "fmt " + le(16) + string(make([]byte, 16))
	cases := []struct {
		name   string
		data   []byte
		chunks []string // IDs in order
		issues []string
	}{
		{"canonical", riff(4+24+12, fmtChunk+"data"+le(4)+"abcd"), []string{"fmt ", "data"}, nil},
		{"odd chunk padded", riff(4+24+12+10, fmtChunk+"odd "+le(3)+"abc\x00data"+le(2)+"xy"), []string{"fmt ", "odd ", "data"}, nil},
		{"data before LIST", riff(4+24+12+12, fmtChunk+"data"+le(4)+"abcdLIST"+le(4)+"INFO"), []string{"fmt ", "data", "LIST"}, nil},
		{"size field short by one", riff(4+24+12-1, fmtChunk+"data"+le(4)+"abcd"), []string{"fmt ", "data"}, []string{riffio.CodeSizeMismatch}},
		{"placeholder header", riff(0xFFFFFFFF, fmtChunk+"data"+le(4)+"abcd"), []string{"fmt ", "data"}, []string{riffio.CodePlaceholderSize}},
		{"placeholder data", riff(0xFFFFFFFF, fmtChunk+"data"+le(0xFFFFFFFF)+"abcdef"), []string{"fmt ", "data"}, []string{riffio.CodePlaceholderSize, riffio.CodePlaceholderSize}},
		{"truncated data", riff(4+24+8+100, fmtChunk+"data"+le(100)+"abcd"), []string{"fmt ", "data"}, []string{riffio.CodeSizeMismatch, riffio.CodeTruncatedChunk}},
		{"missing pad", riff(4+11+8, "odd "+le(3)+"abcLIST"+le(0)), []string{"odd ", "LIST"}, []string{riffio.CodeMissingPad}},
		{"non-zero pad", riff(4+12+8, "odd "+le(3)+"abc\x7fLIST"+le(0)), []string{"odd ", "LIST"}, []string{riffio.CodeNonZeroPad}},
		{"garbage", riff(4+8+8, "data"+le(0)+"\x00\x01\x02\x03\x04\x05\x06\x07"), []string{"data"}, []string{riffio.CodeInvalidChunkID}},
		{"trailing bytes", riff(4+8+3, "data"+le(0)+"xyz"), []string{"data"}, []string{riffio.CodeTrailingBytes}},
		{"empty form", riff(4, ""), nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := riffio.Walk(bytes.NewReader(c.data), int64(len(c.data)))
			if err != nil {
				t.Fatal(err)
			}
			var ids, issues []string
			for _, ch := range l.Chunks {
				ids = append(ids, string(ch.ID[:]))
			}
			for _, is := range l.Issues {
				issues = append(issues, is.Code)
			}
			if !slices.Equal(ids, c.chunks) || !slices.Equal(issues, c.issues) {
				t.Errorf("chunks %q issues %v, want %q %v", ids, issues, c.chunks, c.issues)
			}
		})
	}
}

func TestReadHeaderErrors(t *testing.T) {
	cases := []struct {
		data string
		size int64
		want error
	}{
		{"RIF", 3, riffio.ErrShort},
		{"RIFF\x00\x00\x00\x00WA", 10, riffio.ErrShort},
		{"RIFX\x00\x00\x00\x00WAVE", 12, riffio.ErrNotRIFF},
		{"RF64\xff\xff\xff\xffWAVE", 12, riffio.ErrRF64},
		{"BW64\xff\xff\xff\xffWAVE", 12, riffio.ErrRF64},
		{"RIFF\x00\x00\x00\x00WAVE", 1 << 32, riffio.ErrTooLarge},
	}
	for _, c := range cases {
		if _, _, err := riffio.ReadHeader(bytes.NewReader([]byte(c.data)), c.size); !errors.Is(err, c.want) {
			t.Errorf("%q: got %v, want %v", c.data, err, c.want)
		}
	}
}

func TestLocateSeal(t *testing.T) {
	orig := riff(4+8+3, "data"+le(3)+"abc")
	env := []byte(`{"name":"seal"}`) // the envelope itself holds the bytes "seal"
	sealed := append(bytes.Clone(orig), riffio.SealTrailer(int64(len(orig)), env)...)
	sc, ok, err := riffio.LocateSeal(bytes.NewReader(sealed), int64(len(sealed)))
	if err != nil || !ok {
		t.Fatalf("not found: %v", err)
	}
	if want := int64(len(orig) + len(orig)%2); sc.Offset != want || int(sc.Size) != len(env) {
		t.Errorf("found %+v, want offset %d size %d", sc, want, len(env))
	}
	if got := riffio.SealedLength(int64(len(orig)), len(env)); got != int64(len(sealed)) {
		t.Errorf("SealedLength %d, file %d", got, len(sealed))
	}
	// One byte more and no seal chunk ends the file.
	if _, ok, _ := riffio.LocateSeal(bytes.NewReader(append(sealed, 0)), int64(len(sealed)+1)); ok {
		t.Error("found a seal in a file that does not end with one")
	}
	// The original reads back through the sealed file with its size field.
	o := riffio.NewOriginal(bytes.NewReader(sealed), int64(len(orig)), binary.LittleEndian.Uint32(orig[4:]))
	got := make([]byte, len(orig))
	if n, err := o.ReadAt(got, 0); n != len(orig) || (err != nil && n != len(orig)) || !bytes.Equal(got, orig) {
		t.Errorf("original: %q %v", got[:n], err)
	}
	part := make([]byte, 3)
	o.ReadAt(part, 5) // straddles the size field
	if !bytes.Equal(part, orig[5:8]) {
		t.Errorf("partial read %q, want %q", part, orig[5:8])
	}
}
