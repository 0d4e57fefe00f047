//go:build !unix

package certstore

import "time"

// LockTimeout is how long Create and Update wait for another writer to
// release a store's lock before giving up with a Locked error.
var LockTimeout = 30 * time.Second

// lock is not implemented on this platform: writing a store is refused
// rather than done without protection against concurrent writers.
func lock(path, target string) (func(), error) {
	return nil, errorf(Locked, path, nil, "file locking is not supported on this platform")
}
