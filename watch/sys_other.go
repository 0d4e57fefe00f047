//go:build !unix

package watch

import (
	"io/fs"
	"os"
)

const openFlags = os.O_RDONLY

func keepOwner(f *os.File, fi fs.FileInfo) {}
