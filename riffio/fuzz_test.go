package riffio_test

import (
	"bytes"
	"testing"

	"github.com/tlseal/tlseal/riffio"
)

func FuzzWalk(f *testing.F) {
	f.Add([]byte("RIFF\x04\x00\x00\x00WAVE"))
	f.Add([]byte("RIFF\x10\x00\x00\x00WAVEfmt \x03\x00\x00\x00abc\x00"))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xffxyz"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEodd \x01\x00\x00\x00aLIST\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		l, err := riffio.Walk(r, int64(len(data)))
		if err != nil {
			return
		}
		prev := int64(riffio.HeaderSize)
		for _, c := range l.Chunks {
			if c.Offset != prev || c.End < c.DataOffset || c.End > int64(len(data)) || c.Avail < 0 {
				t.Fatalf("chunk %+v out of order or bounds (prev end %d, size %d)", c, prev, len(data))
			}
			prev = c.End
		}
		if l.ChunkCount != len(l.Chunks) && len(l.Chunks) != riffio.MaxKeptChunks {
			t.Fatalf("count %d, kept %d", l.ChunkCount, len(l.Chunks))
		}
		if _, err := riffio.DescribeWave(r, l); err != nil {
			_ = err // not every RIFF is a WAVE; it must only not crash
		}
		if sc, ok, err := riffio.LocateSeal(r, int64(len(data))); err == nil && ok {
			if sc.Offset+8+int64(sc.Size)+int64(sc.Size&1) != int64(len(data)) {
				t.Fatalf("seal chunk %+v does not end the file of %d bytes", sc, len(data))
			}
		}
		riffio.ScanSealChunks(r, int64(len(data)))
	})
}
