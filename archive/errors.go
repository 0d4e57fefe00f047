package archive

import (
	"errors"
	"fmt"
)

// Reason classifies an Error. The zero value is never used.
type Reason int

// Reasons for an Error.
const (
	_               Reason = iota
	IO                     // reading, writing or syncing a file failed
	NotArchive             // the directory is not a tlseal archive (no archive.json)
	Unsupported            // the archive was written by a newer format version
	Exists                 // Create on a directory that is not empty
	Locked                 // another writer holds the archive's lock
	Corrupt                // the log is damaged beyond automatic repair
	InvalidName            // a source name cannot be archived (absolute, "..", not UTF-8, ...)
	InvalidArgument        // an option or argument is malformed
	NotFound               // no entry with that name or index
	NotCovered             // no checkpoint covers the entry yet
	Seal                   // sealing the source file failed (wraps a *timeline.Error)
	Malformed              // a checkpoint, proof or record does not parse
	BadSignature           // a checkpoint's or proof's signature or hashes do not verify
	Closed                 // the writer was closed, or failed and must be reopened
)

var reasonText = map[Reason]string{
	IO:              "I/O error",
	NotArchive:      "not a tlseal archive",
	Unsupported:     "unsupported archive format version",
	Exists:          "already exists",
	Locked:          "archive is locked by another writer",
	Corrupt:         "archive log is corrupt",
	InvalidName:     "invalid name",
	InvalidArgument: "invalid argument",
	NotFound:        "not found",
	NotCovered:      "not covered by a checkpoint",
	Seal:            "sealing failed",
	Malformed:       "malformed",
	BadSignature:    "verification failed",
	Closed:          "writer is closed",
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
