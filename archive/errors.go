package archive

import (
	"errors"
	"fmt"
)

// Reason classifies an Error. The zero value is never used.
type Reason int

// Reasons for an Error.
const (
	_                     Reason = iota
	ReasonIO                     // reading, writing or syncing a file failed
	ReasonNotArchive             // the directory is not a tlseal archive (no archive.json)
	ReasonUnsupported            // the archive was written by a newer format version
	ReasonExists                 // Create on a directory that is not empty
	ReasonLocked                 // another writer holds the archive's lock
	ReasonCorrupt                // the log is damaged beyond automatic repair
	ReasonInvalidName            // a source name cannot be archived (absolute, "..", not UTF-8, ...)
	ReasonInvalidArgument        // an option or argument is malformed
	ReasonNotFound               // no entry with that name or index
	ReasonNotCovered             // no checkpoint covers the entry yet
	ReasonSeal                   // sealing the source file failed (wraps a *timeline.Error)
	ReasonMalformed              // a checkpoint, proof or record does not parse
	ReasonBadSignature           // a checkpoint's or proof's signature or hashes do not verify
	ReasonClosed                 // the writer was closed, or failed and must be reopened
	ReasonKeyNotAccepted         // the signer's key may not sign this archive's checkpoints (a rotation needs the previous key)
)

var reasonText = map[Reason]string{
	ReasonIO:              "I/O error",
	ReasonNotArchive:      "not a tlseal archive",
	ReasonUnsupported:     "unsupported archive format version",
	ReasonExists:          "already exists",
	ReasonLocked:          "archive is locked by another writer",
	ReasonCorrupt:         "archive log is corrupt",
	ReasonInvalidName:     "invalid name",
	ReasonInvalidArgument: "invalid argument",
	ReasonNotFound:        "not found",
	ReasonNotCovered:      "not covered by a checkpoint",
	ReasonSeal:            "sealing failed",
	ReasonMalformed:       "malformed",
	ReasonBadSignature:    "verification failed",
	ReasonClosed:          "writer is closed",
	ReasonKeyNotAccepted:  "key not accepted",
}

// String returns a short description of r.
func (r Reason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("archive.Reason(%d)", int(r))
}

// Error is the error type of this package: a reason a caller can switch on,
// the file or name concerned, a detail for humans and the underlying error.
type Error struct {
	Reason Reason
	Path   string // the file, directory or name concerned, if any
	Detail string
	Err    error
}

func (e *Error) Error() string {
	msg := "archive: "
	if e.Path != "" {
		msg += e.Path + ": "
	}
	msg += e.Reason.String()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Reason: r}) match any Error with reason r.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason && t.Path == "" && t.Detail == "" && t.Err == nil
}

func errorf(r Reason, path string, err error, format string, args ...any) *Error {
	return &Error{Reason: r, Path: path, Detail: fmt.Sprintf(format, args...), Err: err}
}

// ReasonOf returns the reason of an *Error in err's chain, or 0.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}
