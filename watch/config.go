package watch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/timeline"
)

// Source is one watched directory tree.
type Source struct {
	// Dir is the root directory. It must exist when Run starts.
	Dir string
	// Prefix is put before the path relative to Dir ('/'-separated) to
	// make the source name recorded in seals: "" gives "events/e1.json",
	// "site-a" gives "site-a/events/e1.json". Sources must have distinct
	// prefixes.
	Prefix string
}

// Config configures a Watcher. The zero values of the optional fields are
// replaced by the defaults below.
type Config struct {
	Sources []Source
	// Archive is the archive directory. It is created (a new chain) when
	// it does not exist or is empty. It must not be inside a source.
	Archive string
	// Signer seals the files and signs the archive's checkpoints.
	Signer *timeline.Signer
	// PreviousSigner, when Signer's key is new to the archive, signs the
	// rotation that introduces it (archive.Options.PreviousSigner).
	PreviousSigner *timeline.Signer

	// Include, when not empty, limits the files considered to those
	// matching one of the globs; Exclude drops files and directories
	// matching one. A glob without '/' is matched against the base name of
	// the file and of each directory above it (inside the source); a glob
	// with '/' against the whole relative path (path.Match syntax).
	Include, Exclude []string
	// NoDefaultExcludes drops DefaultExcludes (the temporary files of
	// writers). The watcher's own temporary files (".NAME.tmp-*") are
	// always ignored.
	NoDefaultExcludes bool

	// QuietPeriod: no event for that long, and size and mtime stable,
	// before a file is checked for completeness.
	QuietPeriod time.Duration
	// MaxWait: a file unchanged but structurally incomplete for that long
	// is sealed as it is, with a warning finding.
	MaxWait time.Duration
	// RescanInterval: a full rescan of the sources at this interval, a
	// safety net for lost events (negative: never).
	RescanInterval time.Duration
	// RetryMin and RetryMax bound the backoff of retried errors.
	RetryMin, RetryMax time.Duration
	// DrainTimeout bounds how long a shutdown keeps sealing files that
	// were complete when it began.
	DrainTimeout time.Duration
	// Workers is the number of files checked (read for completeness and
	// idempotency) in parallel. Appends to the archive are serialized.
	Workers int

	// InPlace replaces each source file by its sealed version (atomically,
	// once the archive holds it), as `tlseal sign --in-place` does.
	InPlace bool

	// CheckpointEvery and CheckpointInterval are passed to the archive
	// (see archive.Options).
	CheckpointEvery    int
	CheckpointInterval time.Duration

	// Timestamper, when set, obtains an RFC 3161 token for each of the
	// archive's checkpoints, in the background (archive.Options.
	// Timestamper): a slow or dead TSA never holds up sealing; a failure
	// is counted (tlseal_watch_timestamp_failures_total{kind="checkpoint"})
	// and logged, and the checkpoint is kept for tlseal timestamp.
	Timestamper archive.Timestamper
	// SealTimestamp, when set, obtains a token for each seal too (the
	// --tsa-per-file of the command), best effort: when the TSA fails the
	// file is sealed and archived without one, with the note
	// timestamp.missing (a warning), counted as kind "seal".
	SealTimestamp func(sig []byte) ([]byte, error)

	// StateDir holds the state cache (default: ARCHIVE/watch). It must
	// not be inside a source.
	StateDir string

	// Listen, when set, serves /metrics, /healthz and /readyz on that
	// address (e.g. "127.0.0.1:9464").
	Listen string

	// Logger receives everything the watcher reports (default
	// slog.Default()).
	Logger *slog.Logger
	// Notifier receives the service manager notifications (default: the
	// systemd notifier, a no-op when NOTIFY_SOCKET is not set).
	Notifier Notifier
	// Now is the sealing clock (default time.Now).
	Now func() time.Time
}

// Defaults.
const (
	DefaultQuietPeriod    = 500 * time.Millisecond
	DefaultMaxWait        = 10 * time.Minute
	DefaultRescanInterval = 15 * time.Minute
	DefaultRetryMin       = time.Second
	DefaultRetryMax       = time.Minute
	DefaultDrainTimeout   = 20 * time.Second
	// StateDirName is the default state directory inside the archive.
	StateDirName = "watch"
)

// DefaultExcludes are the temporary files of common writers: hidden files
// and directories (".name", also the watcher's own temporary files),
// "*.tmp", "*.part", "*.partial", "*.swp", "*~".
var DefaultExcludes = []string{".*", "*.tmp", "*.part", "*.partial", "*.swp", "*~"}

// alwaysExcluded is the pattern of the temporary files atomic writes
// (internal/atomicfile, used for --in-place) leave next to their target.
const alwaysExcluded = ".*.tmp-*"

// normalize checks c and fills in the defaults. It resolves the source and
// archive directories to absolute, symlink-free paths and refuses overlaps.
func (c *Config) normalize() error {
	if len(c.Sources) == 0 {
		return configError("no source directory (--source DIR)")
	}
	if c.Archive == "" {
		return configError("no archive directory (--archive DIR)")
	}
	if err := archive.CheckLocation(c.Archive); err != nil {
		return configError("%v", err)
	}
	if c.Signer == nil {
		return configError("no signer (--cert/--key)")
	}
	if c.QuietPeriod == 0 {
		c.QuietPeriod = DefaultQuietPeriod
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.RescanInterval == 0 {
		c.RescanInterval = DefaultRescanInterval
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Workers <= 0 {
		c.Workers = max(2, runtime.GOMAXPROCS(0))
	}
	switch {
	case c.QuietPeriod < 0:
		return configError("quiet period %v is negative", c.QuietPeriod)
	case c.MaxWait < c.QuietPeriod:
		return configError("max wait %v is shorter than the quiet period %v", c.MaxWait, c.QuietPeriod)
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return configError("retry backoff %v..%v is not a range", c.RetryMin, c.RetryMax)
	case c.DrainTimeout < 0:
		return configError("drain timeout %v is negative", c.DrainTimeout)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Notifier == nil {
		c.Notifier = SystemdNotifier{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	for _, g := range append(append([]string(nil), c.Include...), c.Exclude...) {
		if _, err := path.Match(g, ""); err != nil {
			return configError("glob %q: %v", g, err)
		}
	}

	prefixes := map[string]string{}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.Dir == "" {
			return configError("source %d: empty directory", i+1)
		}
		dir, err := resolveDir(s.Dir)
		if err != nil {
			return configError("source %s: %v", s.Dir, err)
		}
		st, err := os.Stat(dir)
		if err != nil {
			return configError("source %s: %v", s.Dir, err)
		}
		if !st.IsDir() {
			return configError("source %s is not a directory", s.Dir)
		}
		s.Dir = dir
		s.Prefix = strings.Trim(s.Prefix, "/")
		if s.Prefix != "" && (path.Clean(s.Prefix) != s.Prefix || strings.HasPrefix(s.Prefix, "..") || strings.ContainsAny(s.Prefix, "\\")) {
			return configError("source %s: prefix %q must be a clean relative path", s.Dir, s.Prefix)
		}
		if other, ok := prefixes[s.Prefix]; ok {
			return configError("sources %s and %s have the same name prefix %q: their files would share source names (set distinct prefixes)", other, s.Dir, s.Prefix)
		}
		prefixes[s.Prefix] = s.Dir
	}
	for i := range c.Sources {
		for j := range c.Sources {
			if i != j && within(c.Sources[i].Dir, c.Sources[j].Dir) {
				return configError("source %s is inside source %s: its files would be sealed twice", c.Sources[i].Dir, c.Sources[j].Dir)
			}
		}
	}
	var err error
	if archive.IsURL(c.Archive) {
		// Object storage: nothing to resolve, and the state cache needs a
		// directory of its own.
		if c.StateDir == "" {
			return configError("an archive on object storage (%s) needs a local state directory: --state-dir DIR", c.Archive)
		}
	} else if c.Archive, err = resolveDir(c.Archive); err != nil {
		return configError("archive %s: %v", c.Archive, err)
	}
	if c.StateDir == "" {
		c.StateDir = filepath.Join(c.Archive, StateDirName)
	} else if c.StateDir, err = resolveDir(c.StateDir); err != nil {
		return configError("state directory: %v", err)
	}
	for _, s := range c.Sources {
		for _, d := range []struct{ what, dir string }{{"archive", c.Archive}, {"state directory", c.StateDir}} {
			if within(d.dir, s.Dir) {
				return configError("the %s %s is inside the watched source %s: refusing to watch the watcher's own output", d.what, d.dir, s.Dir)
			}
			if within(s.Dir, d.dir) {
				return configError("the watched source %s is inside the %s %s", s.Dir, d.what, d.dir)
			}
		}
	}
	return nil
}

// resolveDir makes dir absolute and resolves symlinks in the part of it that
// exists (a directory still to be created keeps its remaining elements).
func resolveDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	var rest []string
	cur := abs
	for {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
		cur = parent
	}
}

// within reports whether p is dir or inside it (both clean and absolute).
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	if !strings.HasSuffix(dir, string(filepath.Separator)) {
		dir += string(filepath.Separator)
	}
	return strings.HasPrefix(p, dir)
}

// FileConfig is the "watch" member of a tlseal JSON configuration file
// (--config). Durations are Go duration strings ("500ms", "10m"). Relative
// paths are taken relative to the configuration file's directory.
type FileConfig struct {
	// Sources are directories, as strings or {"dir": ..., "prefix": ...}.
	Sources            []FileSource `json:"sources"`
	Archive            string       `json:"archive"`
	StateDir           string       `json:"stateDir"`
	Include            []string     `json:"include"`
	Exclude            []string     `json:"exclude"`
	NoDefaultExcludes  bool         `json:"noDefaultExcludes"`
	QuietPeriod        Duration     `json:"quietPeriod"`
	MaxWait            Duration     `json:"maxWait"`
	RescanInterval     Duration     `json:"rescanInterval"`
	RetryMin           Duration     `json:"retryMin"`
	RetryMax           Duration     `json:"retryMax"`
	DrainTimeout       Duration     `json:"drainTimeout"`
	Workers            int          `json:"workers"`
	InPlace            bool         `json:"inPlace"`
	CheckpointEvery    int          `json:"checkpointEvery"`
	CheckpointInterval Duration     `json:"checkpointInterval"`
	Listen             string       `json:"listen"`
	LogFormat          string       `json:"logFormat"` // "auto", "text" or "json"
	LogLevel           string       `json:"logLevel"`  // "debug", "info", "warn", "error"
	// TSA, TSAPerFile and TSATimeout are the command's --tsa,
	// --tsa-per-file and --tsa-timeout (the command makes the client:
	// Apply leaves them).
	TSA        string   `json:"tsa"`
	TSAPerFile bool     `json:"tsaPerFile"`
	TSATimeout Duration `json:"tsaTimeout"`
}

// FileSource is a source in a configuration file.
type FileSource struct {
	Dir    string `json:"dir"`
	Prefix string `json:"prefix"`
}

// UnmarshalJSON accepts a string (the directory) or an object.
func (s *FileSource) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &s.Dir)
	}
	type plain FileSource
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(s))
}

// Duration is a time.Duration written as a Go duration string in JSON.
type Duration time.Duration

// UnmarshalJSON accepts "1.5s" style strings (and plain numbers of
// nanoseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration: want a string like \"500ms\"")
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// LoadFileConfig reads the "watch" member of a JSON configuration file
// (nil when there is none). Unknown members inside it are an error (a typo
// must not silently change what is watched).
func LoadFileConfig(file string) (*FileConfig, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, configError("config %s: %v", file, err)
	}
	var top struct {
		Watch json.RawMessage `json:"watch"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, configError("config %s: %v", file, err)
	}
	if len(top.Watch) == 0 || string(top.Watch) == "null" {
		return nil, nil
	}
	var fc FileConfig
	dec := json.NewDecoder(bytes.NewReader(top.Watch))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return nil, configError("config %s: watch: %v", file, err)
	}
	dir := filepath.Dir(file)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) || archive.IsURL(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i := range fc.Sources {
		fc.Sources[i].Dir = rel(fc.Sources[i].Dir)
	}
	fc.Archive = rel(fc.Archive)
	fc.StateDir = rel(fc.StateDir)
	return &fc, nil
}

// Apply copies the settings of fc into c where c's are unset (command-line
// flags win over the file).
func (fc *FileConfig) Apply(c *Config) {
	if fc == nil {
		return
	}
	if len(c.Sources) == 0 {
		for _, s := range fc.Sources {
			c.Sources = append(c.Sources, Source(s))
		}
	}
	setStr := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	setDur := func(dst *time.Duration, v Duration) {
		if *dst == 0 {
			*dst = time.Duration(v)
		}
	}
	setStr(&c.Archive, fc.Archive)
	setStr(&c.StateDir, fc.StateDir)
	setStr(&c.Listen, fc.Listen)
	if len(c.Include) == 0 {
		c.Include = fc.Include
	}
	if len(c.Exclude) == 0 {
		c.Exclude = fc.Exclude
	}
	c.NoDefaultExcludes = c.NoDefaultExcludes || fc.NoDefaultExcludes
	c.InPlace = c.InPlace || fc.InPlace
	setDur(&c.QuietPeriod, fc.QuietPeriod)
	setDur(&c.MaxWait, fc.MaxWait)
	setDur(&c.RescanInterval, fc.RescanInterval)
	setDur(&c.RetryMin, fc.RetryMin)
	setDur(&c.RetryMax, fc.RetryMax)
	setDur(&c.DrainTimeout, fc.DrainTimeout)
	setDur(&c.CheckpointInterval, fc.CheckpointInterval)
	if c.Workers == 0 {
		c.Workers = fc.Workers
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = fc.CheckpointEvery
	}
}
