package certstore

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// CreateOptions are the options of Create.
type CreateOptions struct {
	// Iterations is the PBKDF2 iteration count; 0 means DefaultIterations.
	// Lower counts (down to MinIterations) are for tests.
	Iterations int
}

// Open reads, authenticates, decrypts and validates the store at path. It
// never writes. Errors are *Error values: NotFound if there is no file,
// WrongPassword, Truncated, Tampered, BadMagic, UnsupportedVersion,
// InvalidElement, KeyMismatch, IO.
func Open(path string, password []byte) (*Store, error) {
	if len(password) == 0 {
		return nil, errorf(ReasonInvalidArgument, path, nil, "empty password")
	}
	data, err := readStoreFile(path)
	if err != nil {
		return nil, err
	}
	return openBytes(path, data, password)
}

func openBytes(path string, data, password []byte) (*Store, error) {
	h, content, err := decryptFile(path, data, password)
	if err != nil {
		return nil, err
	}
	defer clear(content)
	s, err := decodeContent(path, content)
	if err != nil {
		return nil, err
	}
	s.version, s.flags, s.iterations = int(h.version), int(h.flags), h.iterations
	return s, nil
}

// Create creates a new, empty store at path (an Exists error if there is
// already a file). The file is written atomically with mode 0600.
func Create(path string, password []byte, opts CreateOptions) (*Store, error) {
	if len(password) == 0 {
		return nil, errorf(ReasonInvalidArgument, path, nil, "empty password")
	}
	iter := opts.Iterations
	if iter == 0 {
		iter = DefaultIterations
	}
	if iter < MinIterations || iter > MaxIterations {
		return nil, errorf(ReasonInvalidArgument, path, nil, "iteration count %d out of range [%d, %d]", iter, MinIterations, MaxIterations)
	}
	target, err := resolvePath(path)
	if err != nil {
		return nil, err
	}
	unlock, err := lock(path, target)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Lstat(target); err == nil {
		return nil, errorf(ReasonExists, path, nil, "the file exists; not overwriting it")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(ReasonIO, path, err, "")
	}
	s := &Store{path: path, id: newStoreID(), version: FormatVersion, iterations: iter}
	if err := s.write(target, password); err != nil {
		return nil, err
	}
	return s, nil
}

// Update is the one way to change a store on disk: it takes the store's
// lock (waiting up to LockTimeout for other writers), opens the current
// file, calls fn and, if fn succeeded and changed the store, writes it back
// atomically (fresh salt and IV, mode 0600). If fn or anything else fails,
// the file is left as it was. Because the file is re-read under the lock,
// concurrent writers never lose each other's changes.
func Update(path string, password []byte, fn func(*Store) error) error {
	if len(password) == 0 {
		return errorf(ReasonInvalidArgument, path, nil, "empty password")
	}
	target, err := resolvePath(path)
	if err != nil {
		return err
	}
	if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
		// No lock file is left behind for a store that does not exist.
		return errorf(ReasonNotFound, path, err, "no store file")
	}
	unlock, err := lock(path, target)
	if err != nil {
		return err
	}
	defer unlock()
	data, err := readStoreFile(target)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Path = path
		}
		return err
	}
	s, err := openBytes(path, data, password)
	if err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	if !s.dirty {
		return nil
	}
	return s.write(target, password)
}

// write encrypts s and replaces target atomically. The caller holds the lock.
func (s *Store) write(target string, password []byte) error {
	content, err := s.marshal()
	if err != nil {
		return err
	}
	defer clear(content)
	data, err := encryptFile(content, password, s.iterations)
	if err != nil {
		return errorf(ReasonInvalidArgument, s.path, err, "")
	}
	if err := writeAtomic(target, data); err != nil {
		return errorf(ReasonIO, s.path, err, "writing the store")
	}
	s.dirty = false
	return nil
}

// resolvePath follows a symbolic link at path, so that writes replace the
// link's target rather than the link.
func resolvePath(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return path, nil
	}
	t, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", errorf(ReasonIO, path, err, "resolving symbolic link")
	}
	return t, nil
}

// readStoreFile reads at most maxCiphertext+overhead+1 bytes: enough to
// see that a larger file is too large.
func readStoreFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errorf(ReasonNotFound, path, err, "no store file")
		}
		return nil, errorf(ReasonIO, path, err, "")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCiphertext+overhead+1))
	if err != nil {
		return nil, errorf(ReasonIO, path, err, "")
	}
	return data, nil
}

// writeAtomic writes data to a temporary file next to path (mode 0600),
// syncs it, renames it over path and syncs the directory.
func writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
