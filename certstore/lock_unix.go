//go:build unix

package certstore

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// LockTimeout is how long Create and Update wait for another writer to
// release a store's lock before giving up with a Locked error.
var LockTimeout = 30 * time.Second

// lock takes an exclusive flock on target+".lock" (created with mode 0600
// and never removed: removing it would let two writers lock different
// files). It returns the function that releases it.
func lock(path, target string) (func(), error) {
	f, err := os.OpenFile(target+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, errorf(ReasonIO, path, err, "opening the lock file")
	}
	deadline := time.Now().Add(LockTimeout)
	wait := 5 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, errorf(ReasonIO, path, err, "locking %s.lock", path)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, errorf(ReasonLocked, path, nil, "%s.lock held for more than %v", path, LockTimeout)
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
