package timeline

import (
	"io"

	"golang.org/x/sys/unix"
)

// writeback starts the kernel writing a file's data to disk while it is
// still being written (sync_file_range, SYNC_FILE_RANGE_WRITE: asynchronous,
// no durability promise by itself), so that the fsync that follows has
// little left to flush.
type writeback struct {
	fd   int
	done int64 // bytes already handed to the kernel for writing
}

func startWriteback(dst io.Writer) *writeback {
	f, ok := dst.(interface{ Fd() uintptr })
	if !ok {
		return nil
	}
	return &writeback{fd: int(f.Fd())}
}

// wrote tells the writeback that the output now holds total bytes. Errors
// are ignored: the fsync at commit reports what matters.
func (w *writeback) wrote(total int64) {
	if w == nil || total-w.done < writebackEvery {
		return
	}
	// The header (first bytes) is patched at the end; starting its
	// writeback now is harmless.
	_ = unix.SyncFileRange(w.fd, w.done, total-w.done, unix.SYNC_FILE_RANGE_WRITE)
	w.done = total
}
