package watch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/internal/atomicfile"
)

// StatKey identifies a file's content without reading it: device, inode,
// size, mtime and ctime (ctime cannot be set by a user, so a content change
// that restores the mtime is still seen). Off Linux only size and mtime.
type StatKey struct {
	Dev   uint64 `json:"dev,omitempty"`
	Ino   uint64 `json:"ino,omitempty"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"` // ns since the epoch
	Ctime int64  `json:"ctime,omitempty"`
}

// version is what the watcher knows of the latest archived version of a
// source name.
type version struct {
	Seq         int64  `json:"seq"`
	ArchiveName string `json:"archiveName"`
	Size        int64  `json:"size"`   // of the original
	SHA256      string `json:"sha256"` // of the original
	Env         string `json:"env"`    // hex SHA-256 of the envelope bytes
	// Source is the stat of the source file when it was seen to hold
	// this version (a cache: it saves hashing the file again).
	Source *StatKey `json:"source,omitempty"`
	// Sealed is the stat of the source file after --in-place replaced it
	// by the sealed copy.
	Sealed *StatKey `json:"sealed,omitempty"`
}

// stateFile is the on-disk form of the state cache.
type stateFile struct {
	Format  string              `json:"format"`
	Version int                 `json:"version"`
	ChainID string              `json:"chainId"`
	LogSize int64               `json:"logSize"`
	LastEnv string              `json:"lastEnvelope"` // EnvelopeSHA256 of entry LogSize-1
	Names   map[string]*version `json:"names"`
}

const (
	stateFormat    = "tlseal-watch-state"
	stateVersion   = 1
	stateFileName  = "state.json"
	maxStateFileSz = 1 << 30
)

// state is the idempotency state: the latest archived version of every
// source name, as the archive's log says (the truth), with the stat cache.
type state struct {
	mu      sync.Mutex
	file    string
	chainID string
	names   map[string]*version
	size    int64  // log entries reflected in names
	lastEnv string // EnvelopeSHA256 of entry size-1
	dirty   bool
}

// loadState reads the cache file (if any and valid) and brings it up to
// date with the archive's log through r.
func loadState(file string, r *archive.Reader, log *slog.Logger) (*state, error) {
	s := &state{file: file, chainID: r.Metadata().ChainID, names: map[string]*version{}}
	cached := readStateFile(file, s.chainID, log)
	if cached != nil && cached.LogSize <= r.Size() && cached.LogSize > 0 {
		e, err := r.Entry(cached.LogSize - 1)
		if err == nil && e.EnvelopeSHA256() == cached.LastEnv {
			s.names, s.size, s.lastEnv = cached.Names, cached.LogSize, cached.LastEnv
			if s.names == nil {
				s.names = map[string]*version{}
			}
		}
	}
	if s.size == 0 {
		if cached != nil && cached.LogSize > 0 {
			log.Info("the state cache does not match the archive's log: rebuilding it from the log", "file", file)
		}
		for e, err := range r.Entries() {
			if err != nil {
				return nil, newError(ReasonArchive, "read log", r.Dir(), err)
			}
			s.apply(e, cached)
		}
	} else if err := s.syncLocked(r, nil); err != nil {
		return nil, err
	}
	s.dirty = true
	return s, nil
}

func readStateFile(file, chainID string, log *slog.Logger) *stateFile {
	st, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && st.Size() > maxStateFileSz {
		err = fmt.Errorf("%d bytes", st.Size())
	}
	var data []byte
	if err == nil {
		data, err = os.ReadFile(file)
	}
	var sf stateFile
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(data))
		err = dec.Decode(&sf)
	}
	if err == nil && (sf.Format != stateFormat || sf.Version != stateVersion) {
		err = fmt.Errorf("format %q version %d", sf.Format, sf.Version)
	}
	if err == nil && sf.ChainID != chainID {
		err = fmt.Errorf("it is of chain %s, the archive's is %s", sf.ChainID, chainID)
	}
	if err != nil {
		log.Warn("ignoring the state cache: it is rebuilt from the archive's log", "file", file, "reason", ReasonState, "err", err)
		return nil
	}
	return &sf
}

// apply records an entry of the log. hints, when set, is an older cache
// whose stats are kept for versions with the same content.
func (s *state) apply(e *archive.Entry, hints *stateFile) {
	s.size = e.Seq
	s.lastEnv = e.EnvelopeSHA256()
	if e.Envelope == nil || e.Name == "" {
		return
	}
	v := &version{Seq: e.Seq, ArchiveName: e.ArchiveName, Size: e.Envelope.Size, SHA256: e.Envelope.SHA256, Env: s.lastEnv}
	old := s.names[e.Name]
	if old == nil && hints != nil {
		old = hints.Names[e.Name]
	}
	if old != nil && old.SHA256 == v.SHA256 && old.Size == v.Size {
		v.Source = old.Source
	}
	s.names[e.Name] = v
	s.dirty = true
}

// sync applies the entries the archive has beyond those known.
func (s *state) sync(r *archive.Reader) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncLocked(r, nil)
}

func (s *state) syncLocked(r *archive.Reader, hints *stateFile) error {
	if err := r.Refresh(); err != nil {
		return newError(ReasonArchive, "read log", r.Dir(), err)
	}
	for i := s.size; i < r.Size(); i++ {
		e, err := r.Entry(i)
		if err != nil {
			return newError(ReasonArchive, "read log", r.Dir(), err)
		}
		s.apply(e, hints)
	}
	return nil
}

// get returns a copy of the latest version of name, or nil.
func (s *state) get(name string) *version {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.names[name]
	if v == nil {
		return nil
	}
	c := *v
	return &c
}

// known reports whether key is the stat of the archived version of name
// (or of its in-place sealed copy).
func (s *state) known(name string, key StatKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.names[name]
	return v != nil && (v.Source != nil && *v.Source == key || v.Sealed != nil && *v.Sealed == key)
}

// recorded is called after an ingest (appends finish in seq order, but
// their callers may report out of order): it reports false when entries
// between those known and e are missing (the caller syncs from the log
// and calls it again).
func (s *state) recorded(e *archive.Entry, src *StatKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case e.Seq == s.size+1:
		s.apply(e, nil)
	case e.Seq > s.size+1:
		return false
	}
	if src != nil && e.Envelope != nil {
		if v := s.names[e.Name]; v != nil && v.Seq == e.Seq {
			k := *src
			v.Source = &k
			s.dirty = true
		}
	}
	return true
}

// setSource remembers that the source held the archived version with this
// content digest when it had stat key.
func (s *state) setSource(name, sha string, key StatKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.names[name]; v != nil && v.SHA256 == sha {
		v.Source = &key
		s.dirty = true
	}
}

// setSealed remembers the stat of the in-place sealed source of the version
// whose envelope digest is env.
func (s *state) setSealed(name, env string, key StatKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.names[name]; v != nil && v.Env == env {
		v.Sealed = &key
		s.dirty = true
	}
}

// logSize is the number of log entries the state reflects.
func (s *state) logSize() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// save writes the cache atomically when it changed.
func (s *state) save() error {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	data, err := json.Marshal(&stateFile{Format: stateFormat, Version: stateVersion, ChainID: s.chainID,
		LogSize: s.size, LastEnv: s.lastEnv, Names: s.names})
	s.dirty = false
	s.mu.Unlock()
	if err != nil {
		return newError(ReasonState, "save state", s.file, err)
	}
	if err := os.MkdirAll(filepath.Dir(s.file), 0o755); err != nil {
		s.markDirty()
		return newError(ReasonState, "save state", s.file, err)
	}
	if err := atomicfile.WriteFile(s.file, data, 0o644, true); err != nil {
		s.markDirty()
		return newError(ReasonState, "save state", s.file, err)
	}
	return nil
}

func (s *state) markDirty() {
	s.mu.Lock()
	s.dirty = true
	s.mu.Unlock()
}
