//go:build !linux

package timeline

import (
	"errors"
	"hash"
	"io"
	"sync/atomic"
)

var fileCopyDisabled atomic.Bool

// copyHashingFile is the kernel copy of Linux; elsewhere the caller copies
// through buffers.
func copyHashingFile(io.Writer, hash.Hash, io.ReaderAt, int64, int64) (int64, bool, error) {
	return 0, false, nil
}

func mappedFile(io.ReaderAt, int64) (int, int64, bool) { return 0, 0, false }

// hashMapped is not reached: mappedFile never offers a file here.
func hashMapped(hash.Hash, int, int64, int64, int64) (int64, error) {
	return 0, errors.New("no mapped hashing on this system")
}
