//go:build linux

package watch

import (
	"io/fs"
	"syscall"
)

// statKeyOf extracts the identity and change times of a file.
func statKeyOf(fi fs.FileInfo) StatKey {
	k := StatKey{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.Dev = uint64(st.Dev)
		k.Ino = uint64(st.Ino)
		k.Ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return k
}
