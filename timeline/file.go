package timeline

import (
	"errors"
	"os"

	"github.com/tlseal/tlseal/internal/atomicfile"
)

// SealFile seals the file at in and writes the sealed file to out
// atomically (temporary file, fsync, rename or link, fsync of the
// directory): a crash leaves either no output or a complete one. out may be
// in itself (sealing in place), which needs overwrite. The input is checked
// not to have changed while it was read.
func SealFile(in, out string, overwrite bool, opts SealOptions) (*Sealed, error) {
	f, err := os.Open(in)
	if err != nil {
		return nil, newError(ReasonIO, err, "")
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, newError(ReasonIO, err, "")
	}
	if !before.Mode().IsRegular() {
		return nil, newError(ReasonIO, nil, "not a regular file")
	}
	if !overwrite {
		if _, err := os.Lstat(out); err == nil {
			return nil, newError(ReasonIO, atomicfile.ErrExists, "output %s exists (--force overwrites)", out)
		}
	}
	perm := before.Mode().Perm()
	w, err := atomicfile.Create(out, perm)
	if err != nil {
		return nil, newError(ReasonIO, err, "creating the output")
	}
	defer w.Abort()
	res, err := Seal(w, f, before.Size(), opts)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil {
		return nil, newError(ReasonIO, err, "")
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return nil, newError(ReasonIO, nil, "the file changed while it was sealed")
	}
	if err := w.Commit(overwrite); err != nil {
		if errors.Is(err, atomicfile.ErrExists) {
			return nil, newError(ReasonIO, err, "output exists (--force overwrites)")
		}
		return nil, newError(ReasonIO, err, "writing %s", out)
	}
	return res, nil
}
