package archive

// Creation: a new archive made crash-atomically (docs/archive.md,
// "Layout"), and OpenOrCreate for the writers that take either.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tlseal/tlseal/internal/atomicfile"
)

// Create makes a new archive at dir (which must not exist or be an empty
// directory) and returns its writer. It is crash-atomic: the archive is
// built in a new directory beside dir and renamed into place once complete
// (onto dir when dir is an empty directory), so a crash never leaves a
// half-created archive that neither Create nor OpenWriter accepts; leftovers
// of an interrupted creation are removed. When the parent directory is not
// writable it falls back to creating in place.
func Create(dir string, opts Options) (*Writer, error) {
	if err := CheckLocation(dir); err != nil {
		return nil, err
	}
	if isRemote(dir) {
		return createS3(dir, opts)
	}
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	prefix := "." + base + ".tlseal-new-"
	if old, _ := filepath.Glob(filepath.Join(parent, prefix+"*")); len(old) > 0 {
		for _, o := range old {
			if err := os.RemoveAll(o); err == nil {
				opts.Logger.Info("removed an archive whose creation was interrupted", "path", o)
			}
		}
	}
	mode := fs.FileMode(0o755)
	exists := false
	if fi, err := os.Stat(dir); err == nil {
		if des, err := os.ReadDir(dir); err != nil || len(des) > 0 {
			return createIn(dir, opts) // refuses, with its message
		}
		exists, mode = true, fi.Mode().Perm()
	}
	tmp, err := os.MkdirTemp(parent, prefix)
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err != nil {
		opts.Logger.Warn("cannot create the archive beside its directory: creating it in place (not crash-atomic)", "archive", dir, "err", err)
		return createIn(dir, opts)
	}
	w, err := createIn(tmp, opts)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := w.Close(); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if exists {
		// An empty directory (made by the operator) is replaced; a crash
		// right here leaves no archive and the leftover, both handled by
		// the next Create.
		if err := os.Remove(dir); err != nil {
			os.RemoveAll(tmp)
			return nil, errorf(ReasonIO, dir, err, "")
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
			return nil, errorf(ReasonExists, dir, nil, "the directory is not empty")
		}
		return nil, errorf(ReasonIO, dir, err, "")
	}
	if err := atomicfile.SyncDir(parent); err != nil {
		return nil, errorf(ReasonIO, parent, err, "")
	}
	return OpenWriter(dir, opts)
}

// createIn makes the archive's files in dir itself.
func createIn(dir string, opts Options) (*Writer, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if des, err := os.ReadDir(dir); err == nil && len(des) > 0 {
		return nil, errorf(ReasonExists, dir, nil, "the directory is not empty")
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(ReasonIO, dir, err, "")
	}
	if opts.ChainID == "" {
		id, err := newChainID()
		if err != nil {
			return nil, errorf(ReasonIO, "", err, "generating a chain id")
		}
		opts.ChainID = id
	}
	if err := checkChainID(opts.ChainID); err != nil {
		return nil, errorf(ReasonInvalidArgument, "", err, "")
	}
	if opts.Origin == "" {
		opts.Origin = DefaultOrigin(opts.ChainID)
	}
	if !validKeyName(opts.Origin) {
		return nil, errorf(ReasonInvalidArgument, "", nil, "origin %q must be non-empty, without spaces or '+'", opts.Origin)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errorf(ReasonIO, dir, err, "")
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	if err := createLayout(dir); err != nil {
		unlock()
		return nil, err
	}
	if _, err := writeKey(dir, opts.Signer); err != nil {
		unlock()
		return nil, err
	}
	if err := writeFirstKey(dir, opts.Signer); err != nil {
		unlock()
		return nil, err
	}
	meta := &Metadata{Format: FormatName, Version: FormatVersion, ChainID: opts.ChainID, Origin: opts.Origin, Created: nowUTC()}
	if err := writeMetadata(dir, meta); err != nil {
		unlock()
		return nil, errorf(ReasonIO, dir, err, "writing %s", metadataFile)
	}
	w, err := openWriter(dir, meta, opts, unlock, true)
	if err != nil {
		return nil, err
	}
	if _, err := w.Checkpoint(); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func createLayout(dir string) error {
	for _, d := range []string{filesDir, logDir, keysDir, tmpDir} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return errorf(ReasonIO, dir, err, "creating %s/", d)
		}
	}
	for _, f := range []string{entriesFile, hashesFile, indexFile, pendingFile} {
		fh, err := os.OpenFile(filepath.Join(dir, filepath.FromSlash(f)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return errorf(ReasonIO, dir, err, "creating %s", f)
		}
		fh.Close()
	}
	if err := atomicfile.SyncDir(filepath.Join(dir, logDir)); err != nil {
		return errorf(ReasonIO, dir, err, "")
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return errorf(ReasonIO, dir, err, "")
	}
	return nil
}

// OpenOrCreate opens the archive in dir for appending (OpenWriter), or
// creates it (Create) when dir does not exist or is an empty directory.
// created says which. A directory that holds anything but an archive is
// refused with ReasonExists: tlseal never adopts a folder of other files.
func OpenOrCreate(dir string, opts Options) (w *Writer, created bool, err error) {
	if err := CheckLocation(dir); err != nil {
		return nil, false, err
	}
	if IsArchive(dir) {
		w, err = OpenWriter(dir, opts)
		return w, false, err
	}
	if isRemote(dir) {
		if opts.Retention == nil {
			return nil, false, errorf(ReasonNotArchive, dir, nil, "no archive there: an archive on object storage is made with tlseal archive create %s --retention PERIOD --mode MODE", dir)
		}
	} else if des, err := os.ReadDir(dir); err == nil && len(des) > 0 {
		return nil, false, errorf(ReasonExists, dir, nil, "the directory is neither an archive nor empty")
	}
	w, err = Create(dir, opts)
	return w, err == nil, err
}
