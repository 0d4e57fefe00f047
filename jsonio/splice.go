package jsonio

import "fmt"

// SealKey is the top-level member that holds the seal envelope.
const SealKey = "seal"

// SealSplice returns the bytes inserted at offset close (the original's
// top-level '}') to seal it: a separator when the object has members, the
// key and the envelope.
func SealSplice(hasMembers bool, envelope []byte) []byte {
	b := make([]byte, 0, len(envelope)+8)
	if hasMembers {
		b = append(b, ',')
	}
	b = append(b, `"seal":`...)
	return append(b, envelope...)
}

// SplitError says why a sealed document's last member is not a seal
// spliced exactly as seal format v1 writes it.
type SplitError struct{ Msg string }

func (e *SplitError) Error() string { return e.Msg }

// Split is the result of locating the seal in a sealed document.
type Split struct {
	// Original is made of sealed[:Cut] + sealed[Resume:].
	Cut, Resume int64
	// Envelope is sealed[EnvStart:EnvEnd].
	EnvStart, EnvEnd int64
}

// OriginalSize is the length of the original document.
func (s Split) OriginalSize(sealedSize int64) int64 { return s.Cut + sealedSize - s.Resume }

// LocateSeal checks that the last top-level member of d is "seal", spliced
// exactly as SealSplice writes it, and says where the original's bytes are.
// keyBytes must hold sealed[d.Last.KeyStart : d.Last.ValueStart].
func LocateSeal(d *Document, keyBytes []byte) (Split, error) {
	if d.Members == 0 || d.Last.Key != SealKey {
		return Split{}, &SplitError{"the last top-level member is not \"seal\""}
	}
	m := d.Last
	if string(keyBytes) != `"seal":` {
		return Split{}, &SplitError{fmt.Sprintf("the seal member is not spliced exactly (key and colon are %q)", keyBytes)}
	}
	if m.SepOffset >= 0 && m.SepOffset != m.KeyStart-1 {
		return Split{}, &SplitError{"bytes stand between the separator and the seal key"}
	}
	if m.ValueEnd != d.Close {
		return Split{}, &SplitError{"bytes stand between the envelope and the closing brace"}
	}
	return Split{Cut: m.SpliceStart(), Resume: d.Close, EnvStart: m.ValueStart, EnvEnd: m.ValueEnd}, nil
}
