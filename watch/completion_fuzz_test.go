package watch

import (
	"bytes"
	"testing"
	"time"

	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/internal/testpki"
	"github.com/tlseal/tlseal/timeline"
)

// FuzzCheckComplete: the completeness check never crashes, and what it says
// the sealer and the opener agree with. A file it calls Complete seals; a
// file it calls Sealed opens with a seal found (the watcher then leaves it
// alone, so a wrong Sealed would let a file go unarchived). Incomplete and
// NotTimeline promise nothing about sealing (an unfinished JSON object may
// not seal, a RIFF file mid-write may).
func FuzzCheckComplete(f *testing.F) {
	event := samples.EventJSON(1, time.Unix(0, 0), "r.wav")
	wav := samples.WAV(8000, 0.01, 440)
	for _, seed := range [][]byte{nil, []byte("{}"), []byte(" {\"a\":1}\n"), []byte("RIFF"), []byte("\xEF\xBB\xBF{}"),
		event, event[:len(event)/2], wav, wav[:len(wav)-7], le32(wav, 4, 0xFFFFFFFF),
		sealBytes(f, event), sealBytes(f, wav), []byte("[1]"), []byte("RF64\x00\x00\x00\x00WAVE")} {
		f.Add(seed)
	}
	signer := testpki.Signer(f, testpki.Leaf(f, testpki.CA(f, testpki.Options{}), testpki.Options{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := CheckComplete(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("an in-memory read failed: %v", err)
		}
		if (c.Status == NotTimeline && c.Kind != "") || ((c.Status == Complete || c.Status == Sealed) && c.Kind == "") {
			t.Fatalf("status %v with kind %q", c.Status, c.Kind)
		}
		switch c.Status {
		case Complete:
			var out memfile.File
			if _, err := timeline.Seal(&out, bytes.NewReader(data), int64(len(data)), timeline.SealOptions{Name: "f", Signer: signer}); err != nil {
				t.Fatalf("complete (%s), but sealing fails: %v", c.Kind, err)
			}
		case Sealed:
			o, err := timeline.Open(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if o.Has(timeline.CodeSealMissing) || o.Has(timeline.CodeNotTimeline) {
				t.Fatalf("sealed (%s), but the opener finds no seal: %+v", c.Detail, o.Problems)
			}
		}
	})
}
