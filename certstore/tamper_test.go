package certstore

import (
	"bytes"
	"crypto/elliptic"
	"os"
	"testing"
)

// TestTamper flips one byte in every region of a store file, truncates it
// and appends to it: each is refused with the right reason, by Open and by
// Update, and the file is unchanged afterwards.
func TestTamper(t *testing.T) {
	path := newTestStore(t)
	cert, key := newCert(t, "a", elliptic.P256(), false, nil, nil)
	mustAdd(t, path, Element{ID: "a", Cert: cert, Key: key, Tags: []string{TagEngineDefault}})
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := len(good) - overhead // ciphertext length
	flip := func(off int) func([]byte) []byte {
		return func(b []byte) []byte { b[off] ^= 0x01; return b }
	}
	tests := []struct {
		name   string
		modify func([]byte) []byte
		want   Reason
	}{
		{"magic first byte", flip(offMagic), ReasonBadMagic},
		{"magic last byte", flip(offMagic + 7), ReasonBadMagic},
		{"version", flip(offVersion + 1), ReasonUnsupportedVersion},
		{"version high byte", flip(offVersion), ReasonUnsupportedVersion},
		{"flags", flip(offFlags + 1), ReasonTampered},
		{"iterations", flip(offIter + 3), ReasonTampered},
		{"salt first byte", flip(offSalt), ReasonTampered},
		{"salt last byte", flip(offSalt + saltSize - 1), ReasonTampered},
		{"password check", flip(offCheck), ReasonTampered},
		{"ciphertext length", flip(offLength + 2), ReasonTampered},
		{"header checksum", flip(offChecksum + 5), ReasonTampered},
		{"IV first byte", flip(offIV), ReasonTampered},
		{"IV last byte", flip(offIV + ivSize - 1), ReasonTampered},
		{"ciphertext first byte", flip(offCipher), ReasonTampered},
		{"ciphertext middle", flip(offCipher + n/2), ReasonTampered},
		{"ciphertext last byte", flip(offCipher + n - 1), ReasonTampered},
		{"MAC first byte", flip(offCipher + n), ReasonTampered},
		{"MAC last byte", flip(len(good) - 1), ReasonTampered},
		{"truncated to empty", func(b []byte) []byte { return b[:0] }, ReasonTruncated},
		{"truncated in magic", func(b []byte) []byte { return b[:4] }, ReasonTruncated},
		{"truncated in header", func(b []byte) []byte { return b[:offSalt+3] }, ReasonTruncated},
		{"truncated in IV", func(b []byte) []byte { return b[:offIV+3] }, ReasonTruncated},
		{"truncated in ciphertext", func(b []byte) []byte { return b[:offCipher+n/2] }, ReasonTruncated},
		{"truncated by one byte", func(b []byte) []byte { return b[:len(b)-1] }, ReasonTruncated},
		{"appended byte", func(b []byte) []byte { return append(b, 0) }, ReasonTampered},
		{"appended block", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }, ReasonTampered},
		{"not a store", func([]byte) []byte { return []byte("-----BEGIN CERTIFICATE-----\n") }, ReasonBadMagic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := tt.modify(bytes.Clone(good))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path, testPassword)
			wantReason(t, err, tt.want)
			err = Update(path, testPassword, func(s *Store) error { return s.SetTags("a", nil) })
			wantReason(t, err, tt.want)
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, bad) {
				t.Error("file changed")
			}
		})
	}
	t.Run("every byte", func(t *testing.T) {
		// Whatever byte is flipped, the store is refused.
		for off := range good {
			bad := bytes.Clone(good)
			bad[off] ^= 0x80
			if _, err := openBytes(path, bad, testPassword); err == nil {
				t.Fatalf("flipping byte %d went unnoticed", off)
			}
		}
	})
}

func TestWrongPassword(t *testing.T) {
	path := newTestStore(t)
	good, _ := os.ReadFile(path)
	for _, pw := range [][]byte{[]byte("secret"), append(bytes.Clone(testPassword), 0), testPassword[:len(testPassword)-1], {0}} {
		_, err := Open(path, pw)
		wantReason(t, err, ReasonWrongPassword)
		err = Update(path, pw, func(*Store) error { t.Error("callback ran"); return nil })
		wantReason(t, err, ReasonWrongPassword)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, good) {
		t.Error("file changed")
	}
}

// TestMACBeforeDecrypt: a store whose MAC is wrong is refused as tampered
// even if its ciphertext still decrypts to a valid document.
func TestMACBeforeDecrypt(t *testing.T) {
	data, err := encryptFile([]byte(`{"id":"x","elements":[]}`), testPassword, testIter)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 1
	_, err = openBytes("s", data, testPassword)
	wantReason(t, err, ReasonTampered)
	if e := err.(*Error); e.Detail != "MAC mismatch" {
		t.Errorf("detail %q", e.Detail)
	}
}
