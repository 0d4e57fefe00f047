package verify

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tlseal/tlseal/internal/atomicfile"
)

// The witness of scheduled audits: a checkpoint that an earlier audit
// verified and saved, which the next audit's log must extend
// (ArchiveOptions.Witness). Its policy lives here, once: it is read before
// the audit starts, and it only ever moves to a checkpoint an audit passed.

// ReadWitness reads the witness at path. With create (the audit may update
// the witness), a file that does not exist yet is no error — the audit will
// create it if it passes — provided its directory exists, so that a typo in
// the path fails now rather than after the whole audit. It returns nil, nil
// then.
func ReadWitness(path string, create bool) ([]byte, error) {
	w, err := os.ReadFile(path)
	switch {
	case err == nil:
		return w, nil
	case errors.Is(err, fs.ErrNotExist) && create:
		dir := filepath.Dir(path)
		st, derr := os.Stat(dir)
		if derr != nil {
			return nil, fmt.Errorf("witness %s: its directory: %w", path, derr)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("witness %s: %s is not a directory", path, dir)
		}
		return nil, nil
	default:
		return nil, fmt.Errorf("witness: %w", err)
	}
}

// UpdateWitness saves the checkpoint that the audit res verified as the
// witness at path (replaced atomically and durably), when the audit's
// overall verdict is passed and it found a checkpoint. It reports whether
// it wrote the witness: after any other audit the old witness stays, so
// that a log cut or rewritten is still caught next time.
func UpdateWitness(path string, res *ArchiveResult, overall Verdict) (bool, error) {
	if overall != Passed || res.CheckpointNote == nil {
		return false, nil
	}
	if err := atomicfile.WriteFile(path, res.CheckpointNote, 0o644, true); err != nil {
		return false, fmt.Errorf("updating the witness: %w", err)
	}
	return true, nil
}
