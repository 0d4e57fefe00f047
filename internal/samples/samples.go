// Package samples makes Engage-style timeline files for the demo, tests and
// benchmarks: event JSON files and PCM WAV recordings generated in Go.
package samples

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Event is an Engage-style timeline event.
type Event struct {
	ID        string `json:"id"`
	GroupID   string `json:"groupId"`
	Type      int    `json:"type"`
	Direction int    `json:"direction"`
	Started   int64  `json:"started"`
	Ended     int64  `json:"ended"`
	Alias     string `json:"alias"`
	NodeID    string `json:"nodeId"`
	Audio     struct {
		MS      int64 `json:"ms"`
		Samples int64 `json:"samples"`
	} `json:"audio"`
	URI string `json:"uri"`
}

// EventJSON returns event number i of a group as indented JSON, the way a
// recorder writes it.
func EventJSON(i int, start time.Time, audioName string) []byte {
	e := Event{
		ID:        fmt.Sprintf("evt-%06d", i),
		GroupID:   "{4f2c1d3e-0b7a-4c55-9e21-7d3a5b8c9f10}",
		Type:      1,
		Direction: 1 + i%2,
		Started:   start.UnixMilli(),
		Ended:     start.Add(2 * time.Second).UnixMilli(),
		Alias:     fmt.Sprintf("Unit %d", 7+i%5),
		NodeID:    fmt.Sprintf("node-%04d", 100+i%3),
		URI:       "file://" + audioName,
	}
	e.Audio.MS = 2000
	e.Audio.Samples = 16000
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		panic(err) // a fixed struct always marshals
	}
	return append(b, '\n')
}

// WAV returns a 16-bit PCM mono WAVE file of a tone: seconds long at the
// given sample rate.
func WAV(sampleRate int, seconds float64, freq float64) []byte {
	n := int(float64(sampleRate) * seconds)
	data := make([]byte, 2*n)
	for i := 0; i < n; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/float64(sampleRate)))
		binary.LittleEndian.PutUint16(data[2*i:], uint16(v))
	}
	return WAVFromPCM(sampleRate, 1, 16, data)
}

// WAVFromPCM wraps PCM data in a canonical WAVE file (fmt + data chunks).
func WAVFromPCM(sampleRate, channels, bits int, data []byte) []byte {
	blockAlign := channels * bits / 8
	b := make([]byte, 0, 44+len(data)+1)
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(36+len(data)+len(data)%2))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(sampleRate))
	b = binary.LittleEndian.AppendUint32(b, uint32(sampleRate*blockAlign))
	b = binary.LittleEndian.AppendUint16(b, uint16(blockAlign))
	b = binary.LittleEndian.AppendUint16(b, uint16(bits))
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}
