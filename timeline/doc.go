// Package timeline is tlseal's core format package: the seal envelope of
// format v1 and the sealing and opening of one timeline file.
//
// A timeline file is a JSON object (an Engage event file) or a RIFF file (a
// WAV recording). Seal reads the original once, hashing it while it copies,
// and writes the sealed file: the envelope spliced in as the last top-level
// member "seal" of the JSON object, or appended as the last RIFF chunk
// "seal". The sealed file stays valid JSON or a playable WAV. Open locates
// the seal without trusting the original's structure, reconstructs the
// original bytes, and reports what it found as Problems with stable finding
// codes (the Code* constants); it never judges trust. VerifySignature
// checks an envelope's ECDSA signature against its own certPem; whether that
// certificate is acceptable is the verify package's decision.
//
// The byte-level contract (members, signing input, splice rules, limits)
// is docs/format.md. Errors that stop sealing or opening are *Error values
// with a Reason; a signature that does not verify is a *SignatureError whose
// Reason maps to a finding code with SignatureReason.Code.
package timeline
