package riffio_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/tlseal/tlseal/riffio"
)

// A hostile file of many chunks is walked whole in bounded memory: chunks
// past MaxKeptChunks are counted, not kept; a seal chunk among them is
// still counted and located; issues past MaxIssues are counted in the last.
func TestWalkLimits(t *testing.T) {
	const n = riffio.MaxKeptChunks + 5000
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	sealAt := int64(0)
	for i := range n {
		if i == n-100 {
			sealAt = int64(len(b))
			b = append(b, "seal\x00\x00\x00\x00"...)
			continue
		}
		b = append(b, "odd \x01\x00\x00\x00x\x07"...) // a non-zero pad byte each
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	l, err := riffio.Walk(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if l.ChunkCount != n || len(l.Chunks) != riffio.MaxKeptChunks {
		t.Errorf("counted %d, kept %d", l.ChunkCount, len(l.Chunks))
	}
	if l.SealCount != 1 || len(l.SealOffsets) != 1 || l.SealOffsets[0] != sealAt {
		t.Errorf("seal count %d at %v, want 1 at %d", l.SealCount, l.SealOffsets, sealAt)
	}
	if len(l.Issues) != riffio.MaxIssues || !strings.Contains(l.Issues[len(l.Issues)-1].Detail, "more issues not listed") {
		t.Errorf("%d issues, last %+v", len(l.Issues), l.Issues[len(l.Issues)-1])
	}
}
