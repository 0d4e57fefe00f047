package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/timeline"
)

// Reason classifies an Error. The values are stable: they are the "reason"
// label of the tlseal_watch_errors_total metric and the "reason" attribute
// of log records.
type Reason string

// Reasons for errors. The comments say what the watcher does about each.
const (
	ReasonConfig        Reason = "config"         // the configuration is invalid: Run does not start
	ReasonVanished      Reason = "vanished"       // the file disappeared before it was sealed: dropped
	ReasonPermission    Reason = "permission"     // the file or directory is not readable (or writable for --in-place): retried with backoff
	ReasonUnreadable    Reason = "unreadable"     // reading the file failed: retried with backoff
	ReasonChanged       Reason = "changed"        // the file changed while it was sealed: waited for again
	ReasonNotTimeline   Reason = "not_timeline"   // neither a JSON object nor RIFF, or cut short so that it cannot be sealed: not retried until it changes
	ReasonAlreadySealed Reason = "already_sealed" // the file already carries a seal that this archive did not make: not retried until it changes
	ReasonTooLarge      Reason = "too_large"      // 4 GiB or more (outside seal format v1): not retried until it changes
	ReasonInvalidName   Reason = "invalid_name"   // the path cannot be an archive name: not retried until it changes
	ReasonArchiveFull   Reason = "archive_full"   // no space (or quota) left where the archive is: retried with backoff
	ReasonArchiveIO     Reason = "archive_io"     // another I/O error on the archive: retried with backoff
	ReasonArchiveFailed Reason = "archive_failed" // the archive writer must be reopened (it recovers on open): reopened, then retried
	ReasonArchive       Reason = "archive"        // the archive is corrupt or locked: Run stops with the error
	ReasonInPlace       Reason = "in_place"       // replacing the source by its sealed copy failed: retried with backoff
	ReasonSigner        Reason = "signer"         // the signing key did not sign (a token removed, an external signer failing): sealing holds back, retried with backoff
	ReasonWatch         Reason = "watch"          // a directory could not be watched (inotify limits?): covered by rescans
	ReasonState         Reason = "state"          // the state cache could not be read or written: rebuilt from the archive
)

// Error is an error of the watcher about one path (or the daemon as a whole
// when Path is empty).
type Error struct {
	Reason Reason
	Op     string // what was being done: "watch", "open", "seal", "archive", ...
	Path   string
	Err    error
}

func (e *Error) Error() string {
	msg := "watch: "
	if e.Op != "" {
		msg += e.Op + " "
	}
	if e.Path != "" {
		msg += e.Path + ": "
	}
	// The reason, unless the cause says it already ("archive: archive:
	// ..." helps nobody).
	cause := ""
	if e.Err != nil {
		cause = e.Err.Error()
	}
	if !strings.HasPrefix(cause, string(e.Reason)+": ") {
		msg += string(e.Reason)
		if cause != "" {
			msg += ": "
		}
	}
	return msg + cause
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Reason: r}) match any Error with reason r.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason && t.Op == "" && t.Path == "" && t.Err == nil
}

func newError(r Reason, op, path string, err error) *Error {
	return &Error{Reason: r, Op: op, Path: path, Err: err}
}

func configError(format string, args ...any) *Error {
	return &Error{Reason: ReasonConfig, Err: fmt.Errorf(format, args...)}
}

// ReasonOf returns the reason of an *Error in err's chain, or "".
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// retryable reports whether an error may go away by itself.
func (r Reason) retryable() bool {
	switch r {
	case ReasonPermission, ReasonUnreadable, ReasonArchiveFull, ReasonArchiveIO, ReasonArchiveFailed, ReasonInPlace, ReasonSigner:
		return true
	}
	return false
}

// isNoSpace reports ENOSPC and EDQUOT.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// sourceErrorReason classifies an error about the source file itself.
func sourceErrorReason(err error) Reason {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return ReasonVanished
	case errors.Is(err, fs.ErrPermission):
		return ReasonPermission
	case errors.Is(err, syscall.ELOOP):
		return ReasonVanished // replaced by a symlink: not ours to follow
	}
	return ReasonUnreadable
}

// classifyIngest maps an error of archive.Writer.Ingest to a reason. src is
// the path Ingest was given.
func classifyIngest(err error, src string) Reason {
	if isNoSpace(err) {
		return ReasonArchiveFull
	}
	var te *timeline.Error
	if errors.As(err, &te) {
		switch te.Reason {
		case timeline.ReasonNotTimeline, timeline.ReasonNotJSON, timeline.ReasonNotObject, timeline.ReasonNotRIFF:
			return ReasonNotTimeline
		case timeline.ReasonAlreadySealed:
			return ReasonAlreadySealed
		case timeline.ReasonTooLarge:
			return ReasonTooLarge
		case timeline.ReasonSign:
			return ReasonSigner
		}
	}
	switch archive.ReasonOf(err) {
	case archive.ReasonSeal:
		// The source changed or could not be read while it was sealed
		// (the archive's own write errors are matched above when they
		// are ENOSPC; others surface as I/O here too and are retried).
		if te != nil && te.Err == nil {
			return ReasonChanged
		}
		var ae *archive.Error
		if errors.As(err, &ae) && ae.Err == nil {
			return ReasonChanged
		}
		return ReasonUnreadable
	case archive.ReasonIO:
		var ae *archive.Error
		if errors.As(err, &ae) && ae.Path == src {
			return sourceErrorReason(err)
		}
		return ReasonArchiveIO
	case archive.ReasonInvalidName:
		return ReasonInvalidName
	case archive.ReasonInvalidArgument:
		return ReasonNotTimeline // not a regular file
	case archive.ReasonClosed:
		return ReasonArchiveFailed
	case archive.ReasonCorrupt, archive.ReasonLocked, archive.ReasonNotArchive, archive.ReasonUnsupported:
		return ReasonArchive
	}
	return ReasonArchiveIO
}
