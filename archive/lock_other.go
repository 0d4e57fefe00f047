//go:build !unix

package archive

// lockDir is not implemented on this platform: writing an archive is
// refused rather than done without protection against a second writer.
func lockDir(dir string) (func(), error) {
	return nil, errorf(Locked, dir, nil, "file locking is not supported on this platform")
}
