package memfile

import (
	"bytes"
	"io"
	"testing"
)

func TestFile(t *testing.T) {
	var f File
	f.Write([]byte("hello world"))
	if _, err := f.Seek(6, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("WORLD"))
	if _, err := f.Seek(2, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("!")) // past the end: a zero-filled gap
	if _, err := f.Seek(-14, io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("H"))
	if want := []byte("Hello WORLD\x00\x00!"); !bytes.Equal(f.Bytes(), want) {
		t.Errorf("got %q, want %q", f.Bytes(), want)
	}
	if _, err := f.Seek(-1, io.SeekStart); err == nil {
		t.Error("a negative offset was accepted")
	}
	if _, err := f.Seek(0, 7); err == nil {
		t.Error("an invalid whence was accepted")
	}
}
