//go:build !unix

package verify

import "os"

func openRead(path string) (*os.File, error) { return os.Open(path) }
