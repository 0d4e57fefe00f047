//go:build unix

package watch

import (
	"io/fs"
	"os"
	"syscall"
)

// openFlags open a source file for reading without following a final
// symlink and without blocking on a FIFO.
const openFlags = os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// keepOwner gives f the owner of fi when running as root (best effort: an
// in-place sealed file keeps its owner).
func keepOwner(f *os.File, fi fs.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		f.Chown(int(st.Uid), int(st.Gid))
	}
}
