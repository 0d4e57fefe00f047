package watch

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// CodeIncomplete is the finding recorded for a file sealed as it was after
// MaxWait although it was not structurally complete (a recording cut short,
// a writer that died): the evidence is kept, with a warning.
const CodeIncomplete = "watch.incomplete"

// FindingsFileName is the journal of findings in the state directory.
const FindingsFileName = "findings.jsonl"

// Finding is a fact the watcher recorded about an archive entry. The archive
// format has no place for it (yet), so it is kept in a JSON-lines journal
// beside the archive (StateDir/findings.jsonl), one object per line.
type Finding struct {
	Seq         int64  `json:"seq"`
	ArchiveName string `json:"archiveName"`
	Name        string `json:"name"`
	SHA256      string `json:"sha256"`
	Code        string `json:"code"`
	Severity    string `json:"severity"`
	Message     string `json:"message"`
	Time        string `json:"time"` // RFC 3339 UTC
}

// journal appends findings durably.
type journal struct {
	mu   sync.Mutex
	file string
}

func (j *journal) add(f Finding) error {
	if f.Time == "" {
		f.Time = time.Now().UTC().Format(time.RFC3339Nano)
	}
	line, err := json.Marshal(f)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(j.file), 0o755); err != nil {
		return err
	}
	fh, err := os.OpenFile(j.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := fh.Write(append(line, '\n')); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// ReadFindings reads the findings journal of a state directory (for an
// archive at its default place: ARCHIVE/watch). A line cut short by a crash
// is skipped.
func ReadFindings(stateDir string) ([]Finding, error) {
	fh, err := os.Open(filepath.Join(stateDir, FindingsFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var out []Finding
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var f Finding
		if json.Unmarshal(sc.Bytes(), &f) == nil {
			out = append(out, f)
		}
	}
	return out, sc.Err()
}
