package certstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// The on-disk layout, version 1. docs/certstore.md describes it byte by byte;
// keep the two in step.
const (
	// Magic is the first 8 bytes of every store file.
	Magic = "TLSEALCS"
	// FormatVersion is the store format version this package writes.
	FormatVersion = 1

	// DefaultIterations is the PBKDF2 iteration count of new stores.
	DefaultIterations = 600_000
	// MinIterations and MaxIterations bound the iteration count a store may
	// declare. Counts below DefaultIterations are meant for tests only.
	MinIterations = 1_000
	MaxIterations = 100_000_000

	offMagic    = 0   // 8 bytes, Magic
	offVersion  = 8   // uint16 big-endian
	offFlags    = 10  // uint16 big-endian, 0 in version 1
	offIter     = 12  // uint32 big-endian, PBKDF2 iteration count
	offSalt     = 16  // 32 bytes, random per write
	offCheck    = 48  // 16 bytes, password check value
	offLength   = 64  // uint32 big-endian, ciphertext length
	offChecksum = 68  // 32 bytes, SHA-256 of bytes [0, 68)
	headerSize  = 100 // bytes [0, 100): the header
	offIV       = 100 // 16 bytes, AES-CBC IV, random per write
	offCipher   = 116 // ciphertext starts here
	saltSize    = 32
	checkSize   = 16
	ivSize      = aes.BlockSize
	macSize     = sha256.Size
	digestSize  = sha256.Size
	overhead    = offCipher + macSize // file size = overhead + ciphertext length

	// maxCiphertext bounds the ciphertext (and so the memory an open needs).
	maxCiphertext = 64 << 20
)

// appSalt is the built-in 512-bit application salt. It is prepended to the
// per-write salt, so that the derived keys are specific to this application.
// It is not secret; docs/certstore.md lists it.
var appSalt = mustHex("6fa0933ebdab062c3623a1c2242719aaab1061308ea33f5200601de156adf3bb" +
	"9e79c752e8a802a9e9d54ab7c341736743fdb33f2006c5836b68dd9d978af987")

// HKDF info strings for the three keys derived from the PBKDF2 output.
const (
	infoEnc   = "tlseal certstore v1 aes-256-cbc key"
	infoMAC   = "tlseal certstore v1 hmac-sha256 key"
	infoCheck = "tlseal certstore v1 password check"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// header is the parsed, checksum-verified fixed header.
type header struct {
	version    uint16
	flags      uint16
	iterations int
	salt       []byte
	check      []byte
	length     int // ciphertext length
}

// parseHeader checks everything that can be checked without the password:
// magic, version, header checksum, declared lengths against the file size.
func parseHeader(path string, data []byte) (*header, error) {
	if len(data) < len(Magic) {
		if bytes.HasPrefix([]byte(Magic), data) {
			return nil, errorf(ReasonTruncated, path, nil, "%d bytes, shorter than the %d-byte header", len(data), headerSize)
		}
		return nil, errorf(ReasonBadMagic, path, nil, "the file does not start with %q", Magic)
	}
	if string(data[offMagic:offMagic+len(Magic)]) != Magic {
		return nil, errorf(ReasonBadMagic, path, nil, "the file does not start with %q", Magic)
	}
	if len(data) < offVersion+2 {
		return nil, errorf(ReasonTruncated, path, nil, "%d bytes, shorter than the %d-byte header", len(data), headerSize)
	}
	h := &header{version: binary.BigEndian.Uint16(data[offVersion:])}
	if h.version != FormatVersion {
		return nil, errorf(ReasonUnsupportedVersion, path, nil, "format version %d, this tlseal reads version %d", h.version, FormatVersion)
	}
	if len(data) < headerSize {
		return nil, errorf(ReasonTruncated, path, nil, "%d bytes, shorter than the %d-byte header", len(data), headerSize)
	}
	sum := sha256.Sum256(data[:offChecksum])
	if !bytes.Equal(sum[:], data[offChecksum:headerSize]) {
		return nil, errorf(ReasonTampered, path, nil, "header checksum mismatch")
	}
	h.flags = binary.BigEndian.Uint16(data[offFlags:])
	if h.flags != 0 {
		return nil, errorf(ReasonUnsupportedVersion, path, nil, "unknown header flags %#04x", h.flags)
	}
	iter := binary.BigEndian.Uint32(data[offIter:])
	if iter < MinIterations || iter > MaxIterations {
		return nil, errorf(ReasonTampered, path, nil, "iteration count %d out of range [%d, %d]", iter, MinIterations, MaxIterations)
	}
	h.iterations = int(iter)
	h.salt = data[offSalt : offSalt+saltSize]
	h.check = data[offCheck : offCheck+checkSize]
	n := binary.BigEndian.Uint32(data[offLength:])
	if n == 0 || n%aes.BlockSize != 0 || n > maxCiphertext {
		return nil, errorf(ReasonTampered, path, nil, "ciphertext length %d invalid", n)
	}
	h.length = int(n)
	total := overhead + h.length
	switch {
	case len(data) < total:
		return nil, errorf(ReasonTruncated, path, nil, "%d bytes, the header declares %d", len(data), total)
	case len(data) > total:
		return nil, errorf(ReasonTampered, path, nil, "%d unexpected bytes after the MAC", len(data)-total)
	}
	return h, nil
}

// keys are the three keys derived from the password and salts.
type keys struct {
	enc, mac, check []byte
}

func (k *keys) wipe() {
	clear(k.enc)
	clear(k.mac)
	clear(k.check)
}

// deriveKeys computes M = PBKDF2-HMAC-SHA256(P, appSalt || salt, iter, 32),
// where P = uint32be(len(password)) || password, and expands M with
// HKDF-Expand-SHA256 into the encryption key, the MAC key and the password
// check value.
//
// The length prefix matters because the password is binary: HMAC pads its
// key with zero bytes, so without it "ab" and "ab\x00" would derive the
// same keys.
func deriveKeys(password, salt []byte, iterations int) (*keys, error) {
	s := make([]byte, 0, len(appSalt)+len(salt))
	s = append(append(s, appSalt...), salt...)
	p := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(password)), uint32(len(password)))
	p = append(p, password...)
	master, err := pbkdf2.Key(sha256.New, string(p), s, iterations, 32)
	clear(p)
	if err != nil {
		return nil, fmt.Errorf("key derivation: %w", err)
	}
	defer clear(master)
	var k keys
	for _, p := range []struct {
		dst  *[]byte
		info string
		n    int
	}{{&k.enc, infoEnc, 32}, {&k.mac, infoMAC, 32}, {&k.check, infoCheck, checkSize}} {
		if *p.dst, err = hkdf.Expand(sha256.New, master, p.info, p.n); err != nil {
			return nil, fmt.Errorf("key derivation: %w", err)
		}
	}
	return &k, nil
}

// decryptFile authenticates and decrypts a store file and returns the
// content (the JSON document), after checking its SHA-256 digest.
func decryptFile(path string, data, password []byte) (*header, []byte, error) {
	h, err := parseHeader(path, data)
	if err != nil {
		return nil, nil, err
	}
	k, err := deriveKeys(password, h.salt, h.iterations)
	if err != nil {
		return nil, nil, errorf(ReasonInvalidArgument, path, err, "")
	}
	defer k.wipe()
	content, err := decryptWithKeys(path, data, h, k)
	return h, content, err
}

// decryptWithKeys is decryptFile after the key derivation.
func decryptWithKeys(path string, data []byte, h *header, k *keys) ([]byte, error) {
	if subtle.ConstantTimeCompare(k.check, h.check) != 1 {
		return nil, errorf(ReasonWrongPassword, path, nil, "the password does not open this store")
	}
	end := offCipher + h.length
	m := hmac.New(sha256.New, k.mac)
	m.Write(data[:end])
	if !hmac.Equal(m.Sum(nil), data[end:end+macSize]) {
		return nil, errorf(ReasonTampered, path, nil, "MAC mismatch")
	}
	block, err := aes.NewCipher(k.enc)
	if err != nil {
		return nil, errorf(ReasonInvalidArgument, path, err, "")
	}
	plain := make([]byte, h.length)
	cipher.NewCBCDecrypter(block, data[offIV:offIV+ivSize]).CryptBlocks(plain, data[offCipher:end])
	plain, ok := unpad(plain)
	if !ok || len(plain) < digestSize {
		return nil, errorf(ReasonTampered, path, nil, "bad padding after decryption")
	}
	content, digest := plain[:len(plain)-digestSize], plain[len(plain)-digestSize:]
	sum := sha256.Sum256(content)
	if !bytes.Equal(sum[:], digest) {
		return nil, errorf(ReasonTampered, path, nil, "content digest mismatch")
	}
	return content, nil
}

// encryptFile builds a complete store file around content, with a fresh
// salt and IV.
func encryptFile(content, password []byte, iterations int) ([]byte, error) {
	if iterations < MinIterations || iterations > MaxIterations {
		return nil, fmt.Errorf("iteration count %d out of range [%d, %d]", iterations, MinIterations, MaxIterations)
	}
	sum := sha256.Sum256(content)
	plain := pad(append(append(make([]byte, 0, len(content)+digestSize+aes.BlockSize), content...), sum[:]...))
	defer clear(plain)
	if len(plain) > maxCiphertext {
		return nil, fmt.Errorf("store content too large (%d bytes, at most %d)", len(plain), maxCiphertext)
	}
	out := make([]byte, overhead+len(plain))
	copy(out[offMagic:], Magic)
	binary.BigEndian.PutUint16(out[offVersion:], FormatVersion)
	binary.BigEndian.PutUint16(out[offFlags:], 0)
	binary.BigEndian.PutUint32(out[offIter:], uint32(iterations))
	salt := out[offSalt : offSalt+saltSize]
	iv := out[offIV : offIV+ivSize]
	rand.Read(salt)
	rand.Read(iv)
	k, err := deriveKeys(password, salt, iterations)
	if err != nil {
		return nil, err
	}
	defer k.wipe()
	copy(out[offCheck:], k.check)
	binary.BigEndian.PutUint32(out[offLength:], uint32(len(plain)))
	hsum := sha256.Sum256(out[:offChecksum])
	copy(out[offChecksum:], hsum[:])
	block, err := aes.NewCipher(k.enc)
	if err != nil {
		return nil, err
	}
	end := offCipher + len(plain)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out[offCipher:end], plain)
	m := hmac.New(sha256.New, k.mac)
	m.Write(out[:end])
	copy(out[end:], m.Sum(nil))
	return out, nil
}

// pad appends PKCS#7 padding (1 to 16 bytes).
func pad(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	for range n {
		b = append(b, byte(n))
	}
	return b
}

// unpad removes PKCS#7 padding. It runs after the MAC check, so timing is
// not a concern.
func unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, false
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}
