//go:build !unix

package readonly

import (
	"errors"
	"os"
)

// Open opens path for reading: os.Open.
func Open(path string) (*os.File, error) { return os.Open(path) }

// OpenNoFollow is Open, but fails when path is a symbolic link. (Without
// O_NOFOLLOW the check and the open are two steps.)
func OpenNoFollow(path string) (*os.File, error) {
	if st, err := os.Lstat(path); err != nil {
		return nil, err
	} else if st.Mode()&os.ModeSymlink != 0 {
		return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("is a symbolic link")}
	}
	return os.Open(path)
}
