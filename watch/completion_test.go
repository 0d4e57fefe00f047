package watch

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/timeline"
)

func le32(b []byte, off int, v uint32) []byte {
	c := append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(c[off:], v)
	return c
}

func TestCheckComplete(t *testing.T) {
	event := samples.EventJSON(1, time.Unix(0, 0), "r.wav")
	wav := samples.WAV(8000, 0.1, 440)
	sealed := sealBytes(t, event)
	sealedWAV := sealBytes(t, wav)
	cases := []struct {
		name string
		data []byte
		want Status
		kind timeline.Kind
	}{
		{"empty", nil, Incomplete, ""},
		{"whitespace", []byte("  \n"), Incomplete, ""},
		{"BOM only", []byte{0xEF, 0xBB}, Incomplete, ""},
		{"json complete", event, Complete, timeline.KindJSON},
		{"json with BOM", append([]byte{0xEF, 0xBB, 0xBF}, event...), Complete, timeline.KindJSON},
		{"json open", event[:len(event)-3], Incomplete, timeline.KindJSON},
		{"json just the brace", []byte("{"), Incomplete, timeline.KindJSON},
		{"json empty object", []byte("{}"), Complete, timeline.KindJSON},
		{"json trailing whitespace", append(append([]byte(nil), event...), "\n\n"...), Complete, timeline.KindJSON},
		{"json trailing garbage", append(append([]byte(nil), event...), "x"...), NotTimeline, ""},
		{"json array", []byte("[1,2]"), NotTimeline, ""},
		{"json invalid", []byte(`{"a": tru`), Incomplete, timeline.KindJSON},
		{"json syntax error", []byte(`{"a": x}`), NotTimeline, ""},
		{"json sealed", sealed, Sealed, timeline.KindJSON},
		{"text", []byte("hello world\n"), NotTimeline, ""},
		{"riff complete", wav, Complete, timeline.KindRIFF},
		{"riff prefix", []byte("RI"), Incomplete, timeline.KindRIFF},
		{"riff short header", wav[:10], Incomplete, timeline.KindRIFF},
		{"riff placeholder", le32(wav, 4, 0xFFFFFFFF), Incomplete, timeline.KindRIFF},
		{"riff growing", wav[:len(wav)-100], Incomplete, timeline.KindRIFF},
		{"riff size too small", le32(wav, 4, uint32(len(wav)-20)), Incomplete, timeline.KindRIFF},
		{"riff data placeholder", le32(wav, 40, 0xFFFFFFFF), Incomplete, timeline.KindRIFF},
		{"riff sealed", sealedWAV, Sealed, timeline.KindRIFF},
		{"rf64", append([]byte("RF64"), wav[4:]...), TooLarge, timeline.KindRIFF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CheckComplete(bytes.NewReader(c.data), int64(len(c.data)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != c.want || got.Kind != c.kind {
				t.Fatalf("got %v kind %q (%s), want %v kind %q", got.Status, got.Kind, got.Detail, c.want, c.kind)
			}
		})
	}
}

// A JSON file larger than the scan buffer is read to its end.
func TestCheckCompleteLargeJSON(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"pad":"`)
	b.Write(bytes.Repeat([]byte("x"), 3*jsonBuf))
	b.WriteString(`"}`)
	got, err := CheckComplete(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil || got.Status != Complete {
		t.Fatalf("got %v %v", got, err)
	}
	got, _ = CheckComplete(bytes.NewReader(b.Bytes()[:b.Len()-1]), int64(b.Len()-1))
	if got.Status != Incomplete {
		t.Fatalf("cut: got %v", got)
	}
}
