package archive

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// Status is what tlseal archive status shows: what the archive holds, its
// last checkpoint, and for object storage its retention policy, the
// bucket's Object Lock and the writer's lease.
type Status struct {
	Location    string            `json:"location"`
	Storage     string            `json:"storage"` // "directory" or "s3"
	ChainID     string            `json:"chainId"`
	Origin      string            `json:"origin"`
	Created     string            `json:"created"`
	Entries     int64             `json:"entries"`
	SealedBytes int64             `json:"sealedBytes"` // the sealed files' sizes, as logged
	Checkpoint  *StatusCheckpoint `json:"checkpoint,omitempty"`
	// CheckpointError says why there is no verified checkpoint.
	CheckpointError string `json:"checkpointError,omitempty"`
	Retention       *struct {
		Mode   string `json:"mode"`
		Period string `json:"period"`
	} `json:"retention,omitempty"`
	ObjectLock string       `json:"objectLock,omitempty"` // "enabled" or why not (S3)
	Writer     *StatusLease `json:"writer,omitempty"`     // the S3 writer's lease
}

// StatusCheckpoint is the last checkpoint.
type StatusCheckpoint struct {
	Size   int64  `json:"size"`
	Root   string `json:"root"` // base64
	Signer string `json:"signer"`
}

// StatusLease is the S3 writer's lease.
type StatusLease struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
	Active  bool      `json:"active"`
}

// ArchiveStatus reads an archive's status. It reads the log's records
// (for the bytes held), not the sealed files.
func ArchiveStatus(dir string) (*Status, error) {
	r, err := OpenReader(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	m := r.Metadata()
	s := &Status{Location: dir, Storage: "directory", ChainID: m.ChainID, Origin: m.Origin, Created: m.Created, Entries: r.Size()}
	for e, err := range r.Entries() {
		if err != nil {
			return nil, err
		}
		s.SealedBytes += e.SealedSize
	}
	if cp, key, err := r.Checkpoint(); err != nil {
		s.CheckpointError = err.Error()
	} else {
		s.Checkpoint = &StatusCheckpoint{Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Root[:]), Signer: key.Cert.Subject.String()}
	}
	if !isRemote(dir) {
		return s, nil
	}
	s.Storage = "s3"
	st, err := openS3(dir)
	if err != nil {
		return nil, err
	}
	if p, err := st.loadPolicy(); err != nil {
		return nil, err
	} else if p != nil {
		s.Retention = &struct {
			Mode   string `json:"mode"`
			Period string `json:"period"`
		}{strings.ToLower(string(p.Mode)), p.Period}
	}
	s.ObjectLock = "enabled"
	if err := CheckBucketLock(dir); err != nil {
		if ReasonOf(err) != ReasonInvalidArgument {
			return nil, err
		}
		s.ObjectLock = "not enabled on the bucket"
	}
	data, err := st.readObject(lockFile, 64<<10)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var doc leaseDoc
	if err == nil && json.Unmarshal(data, &doc) == nil {
		s.Writer = &StatusLease{Holder: doc.Holder, Expires: doc.Expires, Active: time.Now().Before(doc.Expires)}
	}
	return s, nil
}

// Text is the status for people.
func (s *Status) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "archive:     %s (%s)\n", s.Location, s.Storage)
	fmt.Fprintf(&b, "chain:       %s\norigin:      %s\ncreated:     %s\n", s.ChainID, s.Origin, s.Created)
	fmt.Fprintf(&b, "entries:     %d (%d bytes sealed)\n", s.Entries, s.SealedBytes)
	if c := s.Checkpoint; c != nil {
		fmt.Fprintf(&b, "checkpoint:  %d entries, root %s, signed by %s\n", c.Size, c.Root, c.Signer)
	} else {
		fmt.Fprintf(&b, "checkpoint:  none verified (%s)\n", s.CheckpointError)
	}
	if s.Storage == "s3" {
		if r := s.Retention; r != nil {
			fmt.Fprintf(&b, "retention:   %s, %s mode (every object)\n", r.Period, r.Mode)
		} else {
			fmt.Fprintf(&b, "retention:   none: the archive has no retention policy\n")
		}
		fmt.Fprintf(&b, "object lock: %s\n", s.ObjectLock)
		switch w := s.Writer; {
		case w == nil:
			fmt.Fprintf(&b, "writer:      none\n")
		case w.Active:
			fmt.Fprintf(&b, "writer:      %s (lease until %s)\n", w.Holder, w.Expires.Format(time.RFC3339))
		default:
			fmt.Fprintf(&b, "writer:      none (the last, %s, released or let its lease expire at %s)\n", w.Holder, w.Expires.Format(time.RFC3339))
		}
	}
	return b.String()
}
