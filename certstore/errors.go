package certstore

import (
	"errors"
	"fmt"
)

// Reason classifies an Error. The zero value is never used.
type Reason int

// Reasons for an Error.
const (
	_                        Reason = iota
	ReasonIO                        // reading, writing or syncing a file failed
	ReasonBadMagic                  // the file is not a tlseal certificate store
	ReasonUnsupportedVersion        // the store was written by a newer format version
	ReasonTruncated                 // the file ends before its declared length
	ReasonTampered                  // the file is corrupt or was modified (header checksum, MAC, digest, trailing bytes)
	ReasonWrongPassword             // the password does not open this store
	ReasonInvalidElement            // a certificate, key, ID or tag is not acceptable
	ReasonKeyMismatch               // a private key does not belong to its certificate
	ReasonUnsupportedKey            // a key cannot be used for signing (only ECDSA P-256, P-384, P-521 can)
	ReasonNotFound                  // no element with that ID or tag, or no store file
	ReasonExists                    // an element with that ID, or the store file, already exists
	ReasonLocked                    // another writer holds the store's lock
	ReasonInvalidArgument           // a reference, password or option is malformed
)

var reasonText = map[Reason]string{
	ReasonIO:                 "I/O error",
	ReasonBadMagic:           "not a tlseal certificate store",
	ReasonUnsupportedVersion: "unsupported store format version",
	ReasonTruncated:          "store file is truncated",
	ReasonTampered:           "store file is corrupt or has been tampered with",
	ReasonWrongPassword:      "wrong password",
	ReasonInvalidElement:     "invalid element",
	ReasonKeyMismatch:        "private key does not match its certificate",
	ReasonUnsupportedKey:     "unsupported key",
	ReasonNotFound:           "not found",
	ReasonExists:             "already exists",
	ReasonLocked:             "store is locked by another writer",
	ReasonInvalidArgument:    "invalid argument",
}

// String returns a short human-readable description of r.
func (r Reason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("certstore.Reason(%d)", int(r))
}

// Error is the error type returned by this package.
type Error struct {
	Reason Reason
	Path   string // the store (or input) file concerned, if any
	// Input says Path is an input file (a PEM of CA certificates, a key),
	// not a certificate store: the message does not call it one.
	Input  bool
	Detail string // what exactly, for humans; never contains secrets
	Err    error  // the underlying error, if any
}

// Error returns "certstore FILE: REASON: DETAIL: ERR" ("FILE: REASON: ..."
// for an input file), leaving out empty parts.
func (e *Error) Error() string {
	s := "certstore"
	switch {
	case e.Input:
		s = e.Path
	case e.Path != "":
		s += " " + e.Path
	}
	s += ": " + e.Reason.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of the first *Error in err's chain, or 0 if
// there is none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

// inputErrorf is errorf for an input file that is not a store.
func inputErrorf(r Reason, path string, err error, format string, args ...any) *Error {
	e := errorf(r, path, err, format, args...)
	e.Input = true
	return e
}

func errorf(r Reason, path string, err error, format string, args ...any) *Error {
	return &Error{Reason: r, Path: path, Detail: fmt.Sprintf(format, args...), Err: err}
}
