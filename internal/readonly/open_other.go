//go:build !unix

package readonly

import "os"

// Open opens path for reading: os.Open.
func Open(path string) (*os.File, error) { return os.Open(path) }
