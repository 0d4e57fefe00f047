// Package certstore keeps certificates and their private keys in one
// encrypted, authenticated file, and resolves the references tlseal accepts
// wherever a certificate, key or CA is asked for: "@certstore://ID", a PEM
// file path, or empty (the element tagged "-enginedefault" signs; the
// elements tagged "-cadefault" are trusted).
//
// # File format, version 1
//
// All integers are big-endian. docs/certstore.md has the full description.
//
//	offset  length  field
//	0       8       magic "TLSEALCS"
//	8       2       format version, 1
//	10      2       flags, 0
//	12      4       PBKDF2 iteration count (default 600,000)
//	16      32      salt, random on every write
//	48      16      password check value
//	64      4       ciphertext length n (a multiple of 16)
//	68      32      SHA-256 of bytes [0, 68): header checksum
//	100     16      AES-CBC IV, random on every write
//	116     n       AES-256-CBC ciphertext, PKCS#7 padded
//	116+n   32      HMAC-SHA256 of bytes [0, 116+n)
//
// Keys: M = PBKDF2-HMAC-SHA256(uint32(len(password)) || password,
// appSalt || salt, iterations, 32) with a built-in 64-byte application
// salt (the length prefix keeps "ab" and "ab\x00" apart); the encryption
// key, the MAC key and the 16-byte password check value are
// HKDF-Expand-SHA256(M, info) with distinct info strings. The plaintext is a JSON document followed by its
// SHA-256 digest; it holds the store ID and the elements (ID, tags, DER
// certificate, PKCS#8 DER private key).
//
// Opening checks, in order: magic (BadMagic), version (UnsupportedVersion),
// length (Truncated), header checksum (Tampered), declared against actual
// size (Truncated or Tampered), password check value (WrongPassword), then
// the MAC in constant time (Tampered) before anything is decrypted, then
// the content digest (Tampered), then every element: the certificate
// parses, the key parses and matches it (InvalidElement, KeyMismatch).
//
// # Writing
//
// Update is the only way to change a store on disk: it takes an exclusive
// flock on FILE.lock, re-reads the file, applies the change and replaces
// the file atomically (temporary file with mode 0600, fsync, rename, fsync
// of the directory). Concurrent writers queue; none loses another's change.
// Open never writes and takes no lock.
//
// No function of this package writes a private key anywhere but into the
// encrypted store: descriptors and PEM output carry certificates only.
package certstore
