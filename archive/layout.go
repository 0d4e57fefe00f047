package archive

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlseal/tlseal/internal/atomicfile"
)

// The archive directory (docs/archive.md, "Layout"):
//
//	archive.json        metadata: format, version, chain id, origin, created
//	files/<name>        the sealed files, under their archive names
//	log/entries         the log records (source of truth, append-only)
//	log/hashes          tlog stored hashes, 32 bytes each
//	log/index           32-byte records: where each entry is, name hashes
//	log/pending         the intent record of the ingest in progress
//	checkpoint          the latest signed checkpoint (C2SP signed note)
//	keys/<hash>.pem     certificate (and intermediates) of each checkpoint key
//	quarantine/         files recovery found without a log entry and could not complete
//	tmp/                sealed files being written
//	lock                the writer's lock file
const (
	metadataFile   = "archive.json"
	filesDir       = "files"
	logDir         = "log"
	entriesFile    = "log/entries"
	hashesFile     = "log/hashes"
	indexFile      = "log/index"
	pendingFile    = "log/pending"
	checkpointFile = "checkpoint"
	keysDir        = "keys"
	quarantineDir  = "quarantine"
	tmpDir         = "tmp"
	lockFile       = "lock"
)

// FormatName and FormatVersion identify the archive layout in archive.json.
const (
	FormatName    = "tlseal-archive"
	FormatVersion = 1
)

// Metadata is the content of archive.json.
type Metadata struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	ChainID string `json:"chainId"`
	Origin  string `json:"origin"`
	Created string `json:"created"` // RFC 3339 UTC
}

// DefaultOrigin is the checkpoint origin of a chain when none is given.
func DefaultOrigin(chainID string) string { return "tlseal.local/" + chainID }

// CheckLocation checks an archive location: a directory, or
// s3://BUCKET/PREFIX (object storage, s3store.go). Any other URL is
// refused: a URL taken for a relative path would quietly become a local
// directory named "gs:".
func CheckLocation(dir string) error {
	if IsURL(dir) {
		scheme, _, _ := strings.Cut(dir, "://")
		if scheme == "s3" {
			_, err := parseS3Location(dir)
			return err
		}
		return errorf(ReasonInvalidArgument, dir, nil, "%s:// archives are not supported by this version of tlseal: give a directory or s3://BUCKET/PREFIX", scheme)
	}
	return nil
}

// IsArchive reports whether dir holds an archive (an archive.json).
func IsArchive(dir string) bool {
	if CheckLocation(dir) != nil {
		return false
	}
	if isRemote(dir) {
		return isRemoteArchive(dir)
	}
	st, err := os.Stat(filepath.Join(dir, metadataFile))
	return err == nil && st.Mode().IsRegular()
}

// ReadMetadata reads and checks dir/archive.json.
func ReadMetadata(dir string) (*Metadata, error) {
	if err := CheckLocation(dir); err != nil {
		return nil, err
	}
	path := layoutPath(dir, metadataFile)
	data, err := readArchiveFile(dir, metadataFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(ReasonNotArchive, dir, nil, "no %s", metadataFile)
	}
	if err != nil {
		return nil, wrapIO(path, err)
	}
	if len(data) > 64<<10 {
		return nil, errorf(ReasonCorrupt, path, nil, "metadata file of %d bytes", len(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Metadata
	if err := dec.Decode(&m); err != nil {
		return nil, errorf(ReasonCorrupt, path, err, "metadata does not parse")
	}
	if m.Format != FormatName {
		return nil, errorf(ReasonNotArchive, path, nil, "format is %q, not %q", m.Format, FormatName)
	}
	if m.Version != FormatVersion {
		return nil, errorf(ReasonUnsupported, path, nil, "format version %d (this tool reads version %d)", m.Version, FormatVersion)
	}
	if err := checkChainID(m.ChainID); err != nil {
		return nil, errorf(ReasonCorrupt, path, err, "")
	}
	if !validKeyName(m.Origin) {
		return nil, errorf(ReasonCorrupt, path, nil, "origin %q is not a valid note key name", m.Origin)
	}
	return &m, nil
}

func checkChainID(id string) error {
	if id == "" || len(id) > 256 {
		return fmt.Errorf("chain id must be 1 to 256 bytes")
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return fmt.Errorf("chain id %q may only hold letters, digits and - _ . :", id)
		}
	}
	return nil
}

// newChainID makes a random RFC 4122 version 4 UUID.
func newChainID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

func writeMetadata(dir string, m *Metadata) error {
	data, err := metadataBytes(m)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, metadataFile), data, 0o644, false)
}

// metadataBytes is the content of archive.json.
func metadataBytes(m *Metadata) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

func nowUTC() string { return time.Now().UTC().Format(time.RFC3339) }

// filePath is where an archive name lives on disk.
func filePath(dir, archiveName string) string {
	return filepath.Join(dir, filesDir, filepath.FromSlash(archiveName))
}
