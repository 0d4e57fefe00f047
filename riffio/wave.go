package riffio

import (
	"encoding/binary"
	"fmt"
	"io"

	goriff "github.com/go-audio/riff"
)

// WaveInfo describes the audio of a WAVE file.
type WaveInfo struct {
	AudioFormat   uint16 `json:"audioFormat"` // 1 PCM, 3 IEEE float, 0xFFFE extensible (then SubFormat)
	SubFormat     uint16 `json:"subFormat,omitempty"`
	Channels      uint16 `json:"channels"`
	SampleRate    uint32 `json:"sampleRate"`
	BitsPerSample uint16 `json:"bitsPerSample"`
	BlockAlign    uint16 `json:"blockAlign"`
	// DataBytes is what the file holds of the data chunk (less than it
	// declares when the recording was cut short).
	DataBytes int64 `json:"dataBytes"`
	// SampleCount is the number of sample frames (one sample per channel).
	SampleCount int64 `json:"sampleCount"`
}

// DescribeWave decodes the fmt chunk of a WAVE file with go-audio/riff's
// decoder and counts sample frames in the data chunk as the walker found it.
func DescribeWave(r io.ReaderAt, l *Layout) (*WaveInfo, error) {
	if string(l.FormType[:]) != "WAVE" {
		return nil, fmt.Errorf("form type %q is not WAVE", l.FormType[:])
	}
	fmtc, ok := l.Find([4]byte{'f', 'm', 't', ' '})
	if !ok {
		return nil, fmt.Errorf("WAVE file has no fmt chunk")
	}
	if fmtc.Avail < 16 {
		return nil, fmt.Errorf("fmt chunk too short (%d bytes)", fmtc.Avail)
	}
	p := goriff.New(nil)
	ch := &goriff.Chunk{ID: goriff.FmtID, Size: int(fmtc.Avail), R: io.NewSectionReader(r, fmtc.DataOffset, fmtc.Avail)}
	if err := ch.DecodeWavHeader(p); err != nil {
		return nil, fmt.Errorf("decoding fmt chunk: %w", err)
	}
	w := &WaveInfo{
		AudioFormat:   p.WavAudioFormat,
		Channels:      p.NumChannels,
		SampleRate:    p.SampleRate,
		BitsPerSample: p.BitsPerSample,
		BlockAlign:    p.BlockAlign,
	}
	if w.AudioFormat == 0xFFFE && fmtc.Avail >= 26 {
		// WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts at byte 24 and
		// its first two bytes are the format code.
		var b [2]byte
		if _, err := r.ReadAt(b[:], fmtc.DataOffset+24); err != nil {
			return nil, fmt.Errorf("reading extensible sub-format: %w", err)
		}
		w.SubFormat = binary.LittleEndian.Uint16(b[:])
	}
	if data, ok := l.Find([4]byte{'d', 'a', 't', 'a'}); ok {
		w.DataBytes = min(data.Avail, int64(data.Size))
		if w.BlockAlign > 0 {
			w.SampleCount = w.DataBytes / int64(w.BlockAlign)
		}
	}
	return w, nil
}
