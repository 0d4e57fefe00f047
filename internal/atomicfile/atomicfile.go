// Package atomicfile writes files so that a crash never leaves a half-written
// one: write a temporary file in the target directory, fsync it, rename (or
// link, to refuse overwriting) it into place, fsync the directory.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is returned by Commit when the target exists and overwriting
// was not asked for.
var ErrExists = fs.ErrExist

// File is a temporary file that becomes its target on Commit.
type File struct {
	*os.File
	target string
	done   bool
}

// Create starts writing target: the data goes to a temporary file next to
// it (same directory, so the final rename is atomic).
func Create(target string, perm fs.FileMode) (*File, error) {
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &File{File: f, target: target}, nil
}

// Commit makes the data durable and puts it in place. With overwrite false
// an existing target is left alone and ErrExists returned.
func (f *File) Commit(overwrite bool) error {
	if f.done {
		return errors.New("atomicfile: already committed or aborted")
	}
	f.done = true
	tmp := f.Name()
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if overwrite {
		if err := os.Rename(tmp, f.target); err != nil {
			os.Remove(tmp)
			return err
		}
	} else {
		// link fails if the target exists, unlike rename: no race between
		// a check and the write.
		err := os.Link(tmp, f.target)
		os.Remove(tmp)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w", f.target, ErrExists)
			}
			return err
		}
	}
	return SyncDir(filepath.Dir(f.target))
}

// Abort discards the temporary file. It is safe to call after Commit (it
// then does nothing), so `defer f.Abort()` is the idiom.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// SyncDir fsyncs a directory so that a rename or link in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// WriteFile writes data to target atomically.
func WriteFile(target string, data []byte, perm fs.FileMode, overwrite bool) error {
	f, err := Create(target, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit(overwrite)
}
