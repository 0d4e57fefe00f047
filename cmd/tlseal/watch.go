package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/watch"
)

type watchOptions struct {
	signer             signerFlags
	rotateFrom         signerFlags
	sources            []string
	archive            string
	stateDir           string
	inPlace            bool
	include, exclude   []string
	noDefaultExcludes  bool
	quiet, maxWait     time.Duration
	rescan, drain      time.Duration
	workers            int
	checkpointEvery    int
	checkpointInterval time.Duration
	listen             string
	logFormat          string
	logLevel           string
	tsa                tsaFlags
	tsaTimeoutSet      bool
}

func newWatchCommand(root *rootOptions) *cobra.Command {
	var opts watchOptions
	cmd := &cobra.Command{
		Use:   "watch --source DIR [--source DIR...] --archive DIR",
		Short: "The watcher daemon: seal and archive every new timeline file as soon as it is complete",
		Long: `Watch source directories (recursively) and seal every timeline file (JSON
object, RIFF/WAV) once it is complete, appending the sealed copy to the archive:
exactly once per version of the file, across restarts and crashes.

A file is complete when no event came for it during the quiet period, its size
and mtime are stable, and it is structurally complete (the JSON object is
closed; the RIFF size field equals the file length - 8 and is not the
0xFFFFFFFF placeholder). A file that stays unchanged but incomplete for
--max-wait is sealed as it is, with a warning finding (watch.incomplete)
recorded in its archive entry.
Writers' temporary files are ignored (` + strings.Join(watch.DefaultExcludes, " ") + `; see
--no-default-excludes). Symlinks are not followed. The archive is created when
the directory does not exist or is empty; it must not be inside a source.

The sources are left untouched unless --in-place: then each source file is
replaced (atomically) by its sealed copy once the archive holds it.

Signals: SIGTERM/SIGINT finish the files already complete, write a checkpoint
and exit 0; SIGHUP rescans the sources. Under systemd (Type=notify) it reports
READY, STOPPING, STATUS and feeds the watchdog (WatchdogSec). Logs go to
standard error: text on a terminal, JSON otherwise. See docs/operations.md.

With --tsa URL every checkpoint gets an RFC 3161 token from that
time-stamping authority, in the background: a slow or dead TSA never holds up
sealing. A failed request is logged and counted
(tlseal_watch_timestamp_failures_total) and its checkpoint kept for tlseal
timestamp to complete later. --tsa-per-file also stamps each seal (seal format
v2); when the TSA fails, the file is sealed and archived without a token, with
the warning timestamp.missing in its entry, and the TSA is left alone for a
while (5 s, doubling to 5 min) instead of slowing every file down.

Settings may also come from the "watch" member of --config (flags win).`,
		Example: `  tlseal watch --cert signer.pem --key signer.key --source /srv/recorder --archive /srv/evidence
  tlseal watch --config /etc/tlseal/tlseal.json --listen 127.0.0.1:9464
  tlseal watch --cert signer.pem --key signer.key --source /srv/recorder --archive /srv/evidence --tsa http://tsa.example/`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("watch takes no arguments (use --source DIR)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.tsaTimeoutSet = cmd.Flags().Changed("tsa-timeout")
			return runWatch(cmd.Context(), root, &opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.signer.cert, "cert", "", certFlagHelp)
	f.StringVar(&opts.signer.key, "key", "", keyFlagHelp)
	opts.rotateFrom.registerRotateFrom(f)
	f.StringArrayVar(&opts.sources, "source", nil, "directory to watch, recursively (repeatable; with several, source names are prefixed by each directory's base name)")
	f.StringVar(&opts.archive, "archive", "", "archive directory (created when missing or empty)")
	f.StringVar(&opts.stateDir, "state-dir", "", "state cache (default ARCHIVE/"+watch.StateDirName+")")
	f.BoolVar(&opts.inPlace, "in-place", false, "also replace each source file by its sealed copy (atomically)")
	f.StringArrayVar(&opts.include, "include", nil, "only files matching this glob (repeatable; without '/' it matches base names)")
	f.StringArrayVar(&opts.exclude, "exclude", nil, "skip files and directories matching this glob (repeatable)")
	f.BoolVar(&opts.noDefaultExcludes, "no-default-excludes", false, "do not skip writers' temporary files ("+strings.Join(watch.DefaultExcludes, " ")+")")
	f.DurationVar(&opts.quiet, "quiet-period", 0, fmt.Sprintf("no event and stable size/mtime for this long before a file is checked (default %v)", watch.DefaultQuietPeriod))
	f.DurationVar(&opts.maxWait, "max-wait", 0, fmt.Sprintf("seal a file unchanged but incomplete for this long as it is, with a warning (default %v)", watch.DefaultMaxWait))
	f.DurationVar(&opts.rescan, "rescan-interval", 0, fmt.Sprintf("full rescan of the sources at this interval, negative: never (default %v)", watch.DefaultRescanInterval))
	f.DurationVar(&opts.drain, "drain-timeout", 0, fmt.Sprintf("on shutdown, keep sealing complete files for at most this long (default %v)", watch.DefaultDrainTimeout))
	f.IntVar(&opts.workers, "workers", 0, "files checked in parallel (default: number of CPUs, at least 2)")
	f.IntVar(&opts.checkpointEvery, "checkpoint-every", 0, "write a checkpoint after this many entries (default 1000)")
	f.DurationVar(&opts.checkpointInterval, "checkpoint-interval", 0, "write a checkpoint this long after an entry not yet covered (default 30s)")
	f.StringVar(&opts.listen, "listen", "", "serve /metrics, /healthz and /readyz on this address (e.g. 127.0.0.1:9464)")
	f.StringVar(&opts.logFormat, "log-format", "", "auto (text on a terminal, JSON otherwise), text or json")
	f.StringVar(&opts.logLevel, "log-level", "", "debug, info, warn or error (default info)")
	opts.tsa.registerArchive(f)
	return cmd
}

func runWatch(ctx context.Context, root *rootOptions, opts *watchOptions) error {
	cfg := watch.Config{
		Archive: opts.archive, StateDir: opts.stateDir, InPlace: opts.inPlace,
		Include: opts.include, Exclude: opts.exclude, NoDefaultExcludes: opts.noDefaultExcludes,
		QuietPeriod: opts.quiet, MaxWait: opts.maxWait, RescanInterval: opts.rescan, DrainTimeout: opts.drain,
		Workers: opts.workers, CheckpointEvery: opts.checkpointEvery, CheckpointInterval: opts.checkpointInterval,
		Listen: opts.listen,
	}
	for _, s := range opts.sources {
		cfg.Sources = append(cfg.Sources, watch.Source{Dir: s})
	}
	if len(cfg.Sources) > 1 {
		for i := range cfg.Sources {
			cfg.Sources[i].Prefix = baseName(cfg.Sources[i].Dir)
		}
	}
	logFormat, logLevel := opts.logFormat, opts.logLevel
	if root.configFile != "" {
		fc, err := watch.LoadFileConfig(root.configFile)
		if err != nil {
			return usagef("%v", err)
		}
		fc.Apply(&cfg)
		if fc != nil {
			logFormat = firstNonEmpty(logFormat, fc.LogFormat)
			logLevel = firstNonEmpty(logLevel, fc.LogLevel)
			opts.tsa.url = firstNonEmpty(opts.tsa.url, fc.TSA)
			opts.tsa.perFile = opts.tsa.perFile || fc.TSAPerFile
			if fc.TSATimeout > 0 && !opts.tsaTimeoutSet {
				opts.tsa.timeout = time.Duration(fc.TSATimeout)
			}
		}
	}
	logger, err := newLogger(root.stderr, logFormat, logLevel)
	if err != nil {
		return err
	}
	if len(cfg.Sources) == 0 || cfg.Archive == "" {
		return usagef("watch needs --source DIR and --archive DIR (or a \"watch\" member in --config)")
	}
	signer, err := root.loadSigner(opts.signer)
	if err != nil {
		return err
	}
	cfg.Signer = signer
	if cfg.PreviousSigner, err = root.loadPreviousSigner(opts.rotateFrom); err != nil {
		return err
	}
	if cfg.Timestamper, err = opts.tsa.checkpointStamper(); err != nil {
		return err
	}
	if opts.tsa.perFile {
		if cfg.SealTimestamp, err = opts.tsa.stamper(ctx); err != nil {
			return err
		}
	}
	cfg.Logger = logger
	w, err := watch.New(cfg)
	if err != nil {
		return usagef("%v", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-hup:
				logger.Info("SIGHUP: rescanning the sources")
				w.Rescan()
			case <-done:
				return
			}
		}
	}()
	return w.Run(ctx)
}

// newLogger makes the daemon's logger: text on a terminal, JSON otherwise
// (journald and log shippers parse it), unless the format is given.
func newLogger(out io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "", "info":
		lv = slog.LevelInfo
	case "debug":
		lv = slog.LevelDebug
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "", "auto":
		if isTerminal(out) {
			return slog.New(slog.NewTextHandler(out, ho)), nil
		}
		return slog.New(slog.NewJSONHandler(out, ho)), nil
	case "text":
		return slog.New(slog.NewTextHandler(out, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(out, ho)), nil
	}
	return nil, usagef("--log-format %q: want auto, text or json", format)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func baseName(dir string) string {
	dir = strings.TrimRight(dir, `/\`)
	if i := strings.LastIndexAny(dir, `/\`); i >= 0 {
		return dir[i+1:]
	}
	return dir
}

// watchDemo runs the watcher over src, archiving into arch, while write
// writes files into src; it returns once write is done and the n files it
// reported are all archived (or ctx ends). It is the watcher part of
// `tlseal demo`.
func watchDemo(ctx context.Context, src, arch string, signer *timeline.Signer, logger *slog.Logger,
	write func(ctx context.Context) (n int, err error)) (watch.Stats, error) {
	w, err := watch.New(watch.Config{
		Sources: []watch.Source{{Dir: src}}, Archive: arch, Signer: signer, Logger: logger,
		QuietPeriod: 200 * time.Millisecond, MaxWait: 5 * time.Second, CheckpointInterval: time.Second,
	})
	if err != nil {
		return watch.Stats{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	n, werr := write(ctx)
	if werr != nil {
		cancel()
		<-runErr
		return w.Stats(), werr
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-runErr:
			if err == nil {
				err = ctx.Err()
			}
			return w.Stats(), err
		case <-tick.C:
			st := w.Stats()
			if st.Sealed >= int64(n) && st.QueueDepth == 0 {
				cancel()
				return w.Stats(), <-runErr
			}
		}
	}
}
