// Package tokenkey resolves signing keys that tlseal never holds: keys in a
// token, named by RFC 7512 PKCS#11 URIs, and external signer programs
// (exec:/path, for KMS, cloud HSMs and smart-card tools; see ExecScheme).
// PKCS#11 URIs look like
//
//	pkcs11:token=recorder-7;object=seal-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/tlseal/hsm.pin
//
// The token is chosen by its label (token=; slots are renumbered by some
// modules, SoftHSM2 among them), the key by its label (object=) and/or its
// id (id=, percent-encoded bytes). The PIN comes from pin-source (an
// absolute file path, file: or a plain path; one trailing newline is not
// part of it) or pin-value (which puts the PIN on command lines and in
// configuration files: documented as unsafe). The module is module-path (a
// file), or module-name searched in module-path (a directory).
//
// PKCS#11 logins are per process: once a process has logged in to a token,
// the token lets in another session of it whatever PIN that one gives.
// tlseal logs in once per token and PIN.
//
// A key opened from a token keeps working across the token going away and
// coming back: its Sign fails with ReasonUnavailable while the token is
// away and opens the token again on the next call (the same key, checked
// by its public half).
//
// PKCS#11 needs cgo: a build with CGO_ENABLED=0 has no PKCS#11 support and
// says so (ReasonUnsupportedBuild). The signing itself happens in the token;
// the returned crypto.Signer holds an open session pool for the life of the
// process.
package tokenkey

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"strings"
)

// Scheme starts every PKCS#11 URI.
const Scheme = "pkcs11:"

// IsURI reports whether ref is a PKCS#11 URI (rather than a file path or a
// certificate store reference).
func IsURI(ref string) bool { return strings.HasPrefix(ref, Scheme) }

// Reason classifies an Error. The zero value is never used.
type Reason int

// Reasons for an Error.
const (
	_                      Reason = iota
	ReasonInvalidURI              // the URI does not parse or lacks what is needed
	ReasonUnsupportedBuild        // this build has no PKCS#11 support (built without cgo)
	ReasonModule                  // the PKCS#11 module cannot be found or loaded
	ReasonToken                   // no token with that label, or the login failed (a wrong PIN)
	ReasonPIN                     // the PIN cannot be read
	ReasonNotFound                // no key (or certificate) with that label/id in the token
	ReasonExists                  // Generate: the token already holds a key with that label/id
	ReasonSigner                  // an external signer failed, timed out or answered wrongly
	ReasonUnavailable             // the token did not sign, or cannot be opened again (removed, restarted): retry later
)

var reasonText = map[Reason]string{
	ReasonInvalidURI:       "invalid PKCS#11 URI",
	ReasonUnsupportedBuild: "no PKCS#11 support in this build",
	ReasonModule:           "PKCS#11 module",
	ReasonToken:            "PKCS#11 token",
	ReasonPIN:              "PKCS#11 PIN",
	ReasonNotFound:         "not found in the PKCS#11 token",
	ReasonExists:           "already in the PKCS#11 token",
	ReasonSigner:           "external signer",
	ReasonUnavailable:      "PKCS#11 token unavailable",
}

func (r Reason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Error is a failure to resolve a token key. URI is the reference with
// any pin-value removed.
type Error struct {
	Reason Reason
	URI    string
	Err    error
}

func (e *Error) Error() string {
	msg := e.Reason.String()
	if e.URI != "" {
		msg += " " + e.URI
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Key is a key in a token, and the certificate stored beside it (same id or
// label) if there is one.
type Key struct {
	Signer crypto.Signer
	Cert   *x509.Certificate // nil when the token holds none for the key
}

// Redact returns uri without the value of pin-value, for messages and
// reports.
func Redact(uri string) string {
	path, query, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		if strings.HasPrefix(p, "pin-value=") {
			parts[i] = "pin-value=(redacted)"
		}
	}
	return path + "?" + strings.Join(parts, "&")
}
