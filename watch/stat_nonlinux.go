//go:build !linux

package watch

import "io/fs"

// statKeyOf extracts what the platform offers of a file's identity: size and
// mtime only.
func statKeyOf(fi fs.FileInfo) StatKey {
	return StatKey{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
}
