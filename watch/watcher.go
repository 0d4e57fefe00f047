package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tlseal/tlseal/archive"
)

// source is a watched root with its os.Root: files are opened through it, so
// that no symlink (or renamed directory) leads a read outside the root.
type source struct {
	Source
	mu   sync.Mutex
	root *os.Root
	id   StatKey // device and inode of the root directory when opened
}

func openSource(s Source) (*source, error) {
	src := &source{Source: s}
	if err := src.reopen(); err != nil {
		return nil, err
	}
	return src, nil
}

// reopen opens the root directory again when it is not the one open (it was
// replaced or moved away and back).
func (s *source) reopen() error {
	fi, err := os.Stat(s.Dir)
	if err != nil {
		return err
	}
	id := statKeyOf(fi)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root != nil && s.id.Dev == id.Dev && s.id.Ino == id.Ino {
		return nil
	}
	r, err := os.OpenRoot(s.Dir)
	if err != nil {
		return err
	}
	if s.root != nil {
		s.root.Close()
	}
	s.root, s.id = r, id
	return nil
}

// open opens rel (relative to the root) for reading, without following a
// final symlink, without blocking on a FIFO, never outside the root.
func (s *source) open(rel string) (*os.File, error) {
	s.mu.Lock()
	r := s.root
	s.mu.Unlock()
	if r == nil {
		return nil, fs.ErrClosed
	}
	return r.OpenFile(rel, openFlags, 0)
}

func (s *source) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root != nil {
		s.root.Close()
		s.root = nil
	}
}

// name is the source name of rel.
func (s *source) name(rel string) string {
	n := filepath.ToSlash(rel)
	if s.Prefix != "" {
		n = s.Prefix + "/" + n
	}
	return n
}

// Watcher is the daemon. Create it with New and start it with Run.
type Watcher struct {
	cfg        Config
	log        *slog.Logger
	filter     *filter
	m          *metrics
	sources    []*source
	gate       gate // the archive's appends
	signerGate gate // the signing key's signatures

	started   atomic.Bool
	heartbeat atomic.Int64 // UnixNano of the engine's last tick

	amu sync.Mutex // guards aw, ar
	aw  *archive.Writer
	ar  *archive.Reader
	st  *state

	fsw      *fsnotify.Watcher
	dmu      sync.Mutex
	dirs     map[string]bool    // watched directories
	rescanCh chan string        // rescan requests (cause), coalesced
	settleCh chan chan struct{} // settle requests (settle)
	eng      *engine

	// testing hooks
	onSealed     func(name string, at time.Time) // after each durable append
	newFSWatcher func() (*fsnotify.Watcher, error)
	pauseEvents  chan chan struct{} // the event reader stops reading until the inner channel is closed
}

// New checks the configuration and returns a Watcher. Nothing is opened
// before Run.
func New(cfg Config) (*Watcher, error) {
	cfg.Sources = append([]Source(nil), cfg.Sources...) // normalize rewrites them
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	w := &Watcher{cfg: cfg, log: cfg.Logger, filter: newFilter(&cfg), m: newMetrics(),
		dirs: map[string]bool{}, rescanCh: make(chan string, 1), settleCh: make(chan chan struct{}),
		newFSWatcher: fsnotify.NewWatcher}
	w.gate.min, w.gate.max = cfg.RetryMin, cfg.RetryMax
	w.gate.healthy = func(ok bool) { w.m.with(func(m *metrics) { m.archiveHealthy = ok }) }
	w.signerGate.min, w.signerGate.max = cfg.RetryMin, cfg.RetryMax
	w.signerGate.healthy = func(ok bool) { w.m.with(func(m *metrics) { m.signerHealthy = ok }) }
	return w, nil
}

// Config returns the configuration in effect (defaults filled in, paths
// resolved).
func (w *Watcher) Config() Config { return w.cfg }

// Stats returns a snapshot of the counters.
func (w *Watcher) Stats() Stats { return w.m.stats() }

// Rescan asks for a full rescan of the sources (e.g. on SIGHUP).
func (w *Watcher) Rescan() { w.requestRescan(causeRequest) }

func (w *Watcher) requestRescan(cause string) {
	select {
	case w.rescanCh <- cause:
	default: // one is pending already
	}
}

// Run watches until ctx is cancelled, then drains (files already complete
// are sealed, within Config.DrainTimeout), writes a checkpoint and returns
// nil. It returns an error when it cannot start (configuration, archive
// locked by another writer, not an archive, corrupt) or when the archive
// becomes impossible to append to (corrupt). Everything else is logged,
// counted and retried. Run may be called once.
func (w *Watcher) Run(ctx context.Context) (err error) {
	if !w.started.CompareAndSwap(false, true) {
		return configError("Run was already called")
	}
	for _, s := range w.cfg.Sources {
		src, err := openSource(s)
		if err != nil {
			w.closeSources()
			return configError("source %s: %v", s.Dir, err)
		}
		w.sources = append(w.sources, src)
	}
	defer w.closeSources()
	if err := w.openArchive(); err != nil {
		return err
	}
	defer w.closeArchive()

	var ln net.Listener
	if w.cfg.Listen != "" {
		if ln, err = net.Listen("tcp", w.cfg.Listen); err != nil {
			return configError("--listen %s: %v", w.cfg.Listen, err)
		}
		if host, _, _ := net.SplitHostPort(w.cfg.Listen); host == "" || !net.ParseIP(host).IsLoopback() && host != "localhost" {
			w.log.Warn("metrics and health are served on a non-loopback address: they reveal file counts and paths' error reasons", "listen", ln.Addr().String())
		}
	}
	if w.fsw, err = w.newFSWatcher(); err != nil {
		if ln != nil {
			ln.Close()
		}
		return newError(ReasonWatch, "inotify", "", err)
	}

	hctx, hcancel := context.WithCancel(ctx)
	defer hcancel()
	var wg sync.WaitGroup
	var srv *http.Server
	if ln != nil {
		srv = &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(w.log.Handler(), slog.LevelWarn)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				w.log.Error("metrics server stopped", "err", err)
			}
		}()
		w.log.Info("serving /metrics, /healthz and /readyz", "listen", ln.Addr().String())
	}

	w.eng = newEngine(&w.cfg, w.m, w.log)
	w.eng.stat = os.Lstat
	w.eng.known = w.st.known
	w.eng.work = w.process
	wd := w.cfg.Notifier.WatchdogInterval()
	var lastPing, lastStatus time.Time
	w.heartbeat.Store(time.Now().UnixNano())
	w.eng.onTick = func(now time.Time) {
		w.heartbeat.Store(now.UnixNano())
		if wd > 0 && now.Sub(lastPing) >= wd/2 {
			lastPing = now
			w.notify("WATCHDOG=1")
		}
		if now.Sub(lastStatus) >= 10*time.Second {
			lastStatus = now
			w.notify("STATUS=" + w.status())
		}
	}
	w.eng.onDrain = func() {
		w.notify("STOPPING=1")
		w.log.Info("stopping")
	}

	w.log.Info("watching", "sources", w.sourceDirs(), "archive", w.cfg.Archive, "chainId", w.ar.Metadata().ChainID,
		"entries", w.st.logSize(), "inPlace", w.cfg.InPlace, "quietPeriod", w.cfg.QuietPeriod.String(), "maxWait", w.cfg.MaxWait.String())
	wg.Add(3)
	go func() { defer wg.Done(); w.readEvents(hctx) }()
	go func() { defer wg.Done(); w.scanLoop(hctx) }()
	go func() { defer wg.Done(); w.saveLoop(hctx) }()

	runErr := w.eng.run(ctx)
	hcancel()
	w.fsw.Close()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		srv.Shutdown(sctx)
		cancel()
	}
	wg.Wait()
	if err := w.closeArchive(); err != nil {
		w.log.Error("closing the archive (final checkpoint)", "err", err)
		if runErr == nil {
			runErr = err
		}
	}
	if err := w.st.save(); err != nil {
		w.m.countError(ReasonState)
		w.log.Warn("saving the state cache", "err", err)
	}
	st := w.m.stats()
	w.log.Info("stopped", "sealed", st.Sealed, "bytes", st.Bytes, "entries", w.st.logSize())
	return runErr
}

func (w *Watcher) closeSources() {
	for _, s := range w.sources {
		s.close()
	}
}

func (w *Watcher) sourceDirs() []string {
	var out []string
	for _, s := range w.sources {
		out = append(out, s.Dir)
	}
	return out
}

func (w *Watcher) notify(state string) {
	if err := w.cfg.Notifier.Notify(state); err != nil {
		w.log.Debug("sd_notify", "state", state, "err", err)
	}
}

func (w *Watcher) status() string {
	st := w.m.stats()
	s := fmt.Sprintf("sealed %d, queue %d, waiting %d, dirs %d", st.Sealed, st.QueueDepth, st.Tracked, st.WatchedDirs)
	if !st.ArchiveHealthy {
		s += ", ARCHIVE FAILING"
	}
	if !st.SignerHealthy {
		s += ", SIGNER FAILING"
	}
	return s
}

// saveLoop writes the state cache periodically.
func (w *Watcher) saveLoop(ctx context.Context) {
	every := w.cfg.CheckpointInterval
	if every <= 0 {
		every = archive.DefaultCheckpointInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := w.st.save(); err != nil {
				w.m.countError(ReasonState)
				w.log.Warn("saving the state cache", "err", err)
			}
		}
	}
}

// locate finds the source of an absolute path and the path relative to it.
func (w *Watcher) locate(p string) (*source, string, bool) {
	for _, s := range w.sources {
		if within(p, s.Dir) {
			rel, err := filepath.Rel(s.Dir, p)
			if err != nil {
				return nil, "", false
			}
			if rel == "." {
				rel = ""
			}
			return s, rel, true
		}
	}
	return nil, "", false
}

// send hands a touch to the engine.
func (w *Watcher) send(ctx context.Context, t touch) bool {
	select {
	case w.eng.touches <- t:
		return true
	case <-ctx.Done():
		return false
	}
}

// readEvents turns fsnotify events into touches, watches new directories
// and asks for a rescan when the kernel's queue overflowed.
func (w *Watcher) readEvents(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case resume := <-w.pauseEvents:
			select {
			case <-resume:
			case <-ctx.Done():
				return
			}
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.handleEvent(ctx, ev)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.m.with(func(m *metrics) { m.overflows++ })
				w.log.Warn("the kernel's event queue overflowed: events were lost, rescanning the sources")
				w.requestRescan(causeOverflow)
				continue
			}
			w.m.countError(ReasonWatch)
			w.log.Error("watching", "reason", ReasonWatch, "err", err)
		}
	}
}

func (w *Watcher) handleEvent(ctx context.Context, ev fsnotify.Event) {
	src, rel, ok := w.locate(ev.Name)
	if !ok {
		return
	}
	if rel == "" {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			w.m.countError(ReasonWatch)
			w.log.Error("a source directory was removed or renamed: watching what appears at its path on the next rescan", "path", ev.Name, "reason", ReasonWatch)
			w.unwatchTree(ev.Name)
			w.send(ctx, touch{kind: tRemoveTree, path: ev.Name, src: src})
		}
		return
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		if w.isWatched(ev.Name) {
			w.unwatchTree(ev.Name)
			w.send(ctx, touch{kind: tRemoveTree, path: ev.Name, src: src})
		} else {
			w.send(ctx, touch{kind: tRemove, path: ev.Name, src: src, rel: rel})
		}
	}
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Chmod) {
		return
	}
	if !ev.Has(fsnotify.Create) {
		if w.isWatched(ev.Name) {
			return
		}
		if !w.filter.excludedFile(rel) {
			w.send(ctx, touch{kind: tEvent, path: ev.Name, src: src, rel: rel, name: src.name(rel)})
		}
		return
	}
	fi, err := os.Lstat(ev.Name)
	if err != nil {
		return // gone already
	}
	switch {
	case fi.IsDir():
		if !w.dirExcluded(filepath.ToSlash(rel)) {
			w.m.countRescan(causeDir)
			w.walk(ctx, src, ev.Name)
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		if !w.filter.excludedFile(filepath.ToSlash(rel)) {
			w.m.countSkip(skipSymlink)
			w.log.Debug("not following a symlink", "path", ev.Name)
		}
	case fi.Mode().IsRegular():
		if !w.filter.excludedFile(filepath.ToSlash(rel)) {
			w.send(ctx, touch{kind: tEvent, path: ev.Name, src: src, rel: rel, name: src.name(rel)})
		}
	}
}

func (w *Watcher) isWatched(dir string) bool {
	w.dmu.Lock()
	defer w.dmu.Unlock()
	return w.dirs[dir]
}

// watchDir adds an inotify watch on dir (once).
func (w *Watcher) watchDir(dir string) {
	w.dmu.Lock()
	defer w.dmu.Unlock()
	if w.dirs[dir] {
		return
	}
	if err := w.fsw.Add(dir); err != nil {
		w.m.countError(ReasonWatch)
		w.log.Error("cannot watch a directory: its new files are found by the periodic rescan only (raise fs.inotify.max_user_watches?)",
			"path", dir, "reason", ReasonWatch, "err", err)
		return
	}
	w.dirs[dir] = true
	w.m.with(func(m *metrics) { m.watchedDirs = int64(len(w.dirs)) })
}

// unwatchTree removes the watches of dir and the directories below it (a
// renamed directory keeps its watches under the old paths otherwise).
func (w *Watcher) unwatchTree(dir string) {
	w.dmu.Lock()
	defer w.dmu.Unlock()
	for d := range w.dirs {
		if within(d, dir) {
			w.fsw.Remove(d) // may already be gone with the directory
			delete(w.dirs, d)
		}
	}
	w.m.with(func(m *metrics) { m.watchedDirs = int64(len(w.dirs)) })
}

// walk watches dir and every directory below it that is not excluded and
// reports the files found to the engine. Symlinks are not followed.
func (w *Watcher) walk(ctx context.Context, src *source, dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return filepath.SkipAll
		}
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r := sourceErrorReason(err)
				w.m.countError(r)
				w.log.Error("scanning", "path", p, "reason", r, "err", err)
			}
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, rerr := filepath.Rel(src.Dir, p)
		if rerr != nil {
			return nil
		}
		if rel == "." {
			rel = ""
		}
		slash := filepath.ToSlash(rel)
		switch t := d.Type(); {
		case t.IsDir():
			// The directory walked from was checked by the caller, and
			// each directory below by the step above it.
			if p != dir && w.filter.excludedDir(slash) {
				return filepath.SkipDir
			}
			w.watchDir(p)
		case t&fs.ModeSymlink != 0:
			if !w.filter.excludedFile(slash) {
				w.m.countSkip(skipSymlink)
				w.log.Debug("not following a symlink", "path", p)
			}
		case t.IsRegular():
			if w.filter.excludedFile(slash) {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			if !w.send(ctx, touch{kind: tScan, path: p, src: src, rel: rel, name: src.name(rel), fi: fi}) {
				return filepath.SkipAll
			}
		}
		return nil
	})
}

// dirExcluded reports whether a directory or one above it is excluded.
func (w *Watcher) dirExcluded(slash string) bool {
	for d := slash; d != "." && d != "/" && d != ""; d = parentSlash(d) {
		if w.filter.excludedDir(d) {
			return true
		}
	}
	return false
}

func parentSlash(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// scanLoop runs the catch-up scan at start, then rescans on request
// (overflow, SIGHUP) and periodically.
func (w *Watcher) scanLoop(ctx context.Context) {
	w.scanAll(ctx, causeStart)
	if ctx.Err() != nil {
		return
	}
	w.m.with(func(m *metrics) { m.ready = true })
	w.notify("READY=1")
	w.notify("STATUS=" + w.status())
	w.log.Info("ready: watches set up, catch-up scan done", "directories", w.m.stats().WatchedDirs)
	var tick <-chan time.Time
	if w.cfg.RescanInterval > 0 {
		t := time.NewTicker(w.cfg.RescanInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case cause := <-w.rescanCh:
			if cause == causeOverflow {
				// Let the burst that overflowed the queue settle a little.
				select {
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
					return
				}
			}
			w.scanAll(ctx, cause)
		case done := <-w.settleCh:
			w.scanSources(ctx)
			select {
			case w.eng.touches <- touch{kind: tBarrier, done: done}:
			case <-ctx.Done():
				return
			}
		case <-tick:
			w.scanAll(ctx, causePeriodic)
		}
	}
}

func (w *Watcher) scanAll(ctx context.Context, cause string) {
	w.m.countRescan(cause)
	start := time.Now()
	w.scanSources(ctx)
	w.log.Debug("scanned the sources", "cause", cause, "seconds", time.Since(start).Seconds())
}

// settle proves the watcher quiet: a full scan of the sources, then a
// barrier behind everything the scan (and any event before it) reported,
// then no file left tracked, due or in a worker. Every file in the
// sources has then been looked at in its present state and dealt with;
// what the stats say after settle is final until something changes. (A
// sleep "long enough" proves nothing on a slow machine.) Tests use it; it
// needs a running watcher that is Ready.
func (w *Watcher) settle(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case w.settleCh <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		if st := w.Stats(); st.Tracked == 0 && st.QueueDepth == 0 {
			return nil
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// scanSources walks every source once, reporting each file to the engine.
func (w *Watcher) scanSources(ctx context.Context) {
	for _, s := range w.sources {
		if err := s.reopen(); err != nil {
			w.m.countError(ReasonWatch)
			w.log.Error("a source directory is not there", "path", s.Dir, "reason", ReasonWatch, "err", err)
			continue
		}
		w.walk(ctx, s, s.Dir)
	}
}

// Handler serves /metrics (Prometheus text format), /healthz (the daemon's
// loop is alive and its signing key signs: 200, else 503) and /readyz
// (started, the archive accepts appends and the key signs: 200, else 503).
func (w *Watcher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.m.write(rw)
	})
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, r *http.Request) {
		age := time.Since(time.Unix(0, w.heartbeat.Load()))
		if w.heartbeat.Load() == 0 || age > 30*time.Second {
			http.Error(rw, fmt.Sprintf("stalled: the watcher's loop last ran %v ago", age.Round(time.Millisecond)), http.StatusServiceUnavailable)
			return
		}
		if !w.m.stats().SignerHealthy {
			// Nothing is sealed until the key is back: an operator (or
			// an orchestrator) should know.
			http.Error(rw, "the signing key does not sign (token removed? see the log; retrying, files wait in their source)", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(rw, "ok")
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, r *http.Request) {
		st := w.m.stats()
		switch {
		case !st.Ready:
			http.Error(rw, "starting: catch-up scan in progress", http.StatusServiceUnavailable)
		case !st.ArchiveHealthy:
			http.Error(rw, "the archive does not accept appends (see the log; retrying)", http.StatusServiceUnavailable)
		case !st.SignerHealthy:
			http.Error(rw, "the signing key does not sign (see the log; retrying)", http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(rw, "ready")
		}
	})
	return mux
}
