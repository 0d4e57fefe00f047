package watch

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"
)

// The metrics are written in the Prometheus text exposition format (version
// 0.0.4) by hand: a dozen series do not justify a client library and its
// dependencies.

// latencyBuckets are the upper bounds (seconds) of the latency histograms.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60, 300}

type histogram struct {
	counts []uint64 // per bucket (not cumulative), +Inf last
	sum    float64
	count  uint64
}

func newHistogram() *histogram { return &histogram{counts: make([]uint64, len(latencyBuckets)+1)} }

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(latencyBuckets, v)
	h.counts[i]++
	h.sum += v
	h.count++
}

// quantile estimates a quantile from the buckets (upper bound of the bucket
// it falls in), for Stats.
func (h *histogram) quantile(q float64) float64 {
	if h.count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.count)))
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			if i < len(latencyBuckets) {
				return latencyBuckets[i]
			}
			return math.Inf(1)
		}
	}
	return math.Inf(1)
}

// metrics are the watcher's counters and gauges.
type metrics struct {
	mu               sync.Mutex
	start            time.Time
	sealed           map[string]uint64 // by kind
	bytes            uint64
	resealed         uint64
	incompleteSealed uint64
	skipped          map[string]uint64 // by reason
	errors           map[Reason]uint64
	rescans          map[string]uint64 // by cause
	overflows        uint64
	queueDepth       int64
	tracked          int64
	watchedDirs      int64
	archiveEntries   int64
	archiveHealthy   bool
	signerHealthy    bool
	timestamps       map[string]uint64 // tokens obtained, by kind
	timestampFails   map[string]uint64 // TSA requests failed, by kind
	ready            bool
	lastSeal         time.Time
	latency          *histogram
	ingest           *histogram
}

// Skip reasons (label "reason" of tlseal_watch_files_skipped_total).
const (
	skipArchived    = "already_archived"
	skipInPlace     = "sealed_in_place"
	skipNotTimeline = "not_timeline"
	skipSealed      = "already_sealed"
	skipSymlink     = "symlink"
)

// Rescan causes (label "cause" of tlseal_watch_rescans_total).
const (
	causeStart    = "start"
	causeOverflow = "overflow"
	causePeriodic = "periodic"
	causeRequest  = "request"
	causeDir      = "new_directory"
)

var allReasons = []Reason{ReasonVanished, ReasonPermission, ReasonUnreadable, ReasonChanged, ReasonNotTimeline,
	ReasonAlreadySealed, ReasonTooLarge, ReasonInvalidName, ReasonArchiveFull, ReasonArchiveIO, ReasonArchiveFailed,
	ReasonArchive, ReasonInPlace, ReasonWatch, ReasonState, ReasonSigner}

func newMetrics() *metrics {
	m := &metrics{start: time.Now(), sealed: map[string]uint64{"json": 0, "riff": 0}, skipped: map[string]uint64{},
		errors: map[Reason]uint64{}, rescans: map[string]uint64{}, latency: newHistogram(), ingest: newHistogram(),
		archiveHealthy: true, signerHealthy: true,
		timestamps:     map[string]uint64{tsKindCheckpoint: 0, tsKindSeal: 0},
		timestampFails: map[string]uint64{tsKindCheckpoint: 0, tsKindSeal: 0}}
	for _, r := range allReasons {
		m.errors[r] = 0
	}
	for _, s := range []string{skipArchived, skipInPlace, skipNotTimeline, skipSealed, skipSymlink} {
		m.skipped[s] = 0
	}
	for _, c := range []string{causeStart, causeOverflow, causePeriodic, causeRequest, causeDir} {
		m.rescans[c] = 0
	}
	return m
}

func (m *metrics) with(f func(m *metrics)) {
	m.mu.Lock()
	f(m)
	m.mu.Unlock()
}

func (m *metrics) countError(r Reason) { m.with(func(m *metrics) { m.errors[r]++ }) }

// Kinds of RFC 3161 tokens (label "kind" of the timestamp metrics).
const (
	tsKindCheckpoint = "checkpoint"
	tsKindSeal       = "seal"
)

// countTimestamp counts a token obtained (ok) or a TSA request failed.
func (m *metrics) countTimestamp(kind string, ok bool) {
	m.with(func(m *metrics) {
		if ok {
			m.timestamps[kind]++
		} else {
			m.timestampFails[kind]++
		}
	})
}

func (m *metrics) countSkip(s string) { m.with(func(m *metrics) { m.skipped[s]++ }) }
func (m *metrics) countRescan(c string) {
	m.with(func(m *metrics) { m.rescans[c]++ })
}

// Stats is a snapshot of the watcher's counters.
type Stats struct {
	Sealed           int64            // files sealed and archived
	Bytes            int64            // their original bytes
	Resealed         int64            // new versions of files sealed before
	IncompleteSealed int64            // sealed as they were after MaxWait
	Skipped          map[string]int64 // by reason
	Errors           map[Reason]int64 // by reason
	Rescans          int64
	Overflows        int64
	QueueDepth       int64 // complete files waiting for or in a worker
	Tracked          int64 // files waiting to be complete
	WatchedDirs      int64
	ArchiveEntries   int64
	ArchiveHealthy   bool
	SignerHealthy    bool // false while the signing key does not sign (a token away)
	// Timestamps and TimestampFailures count the TSA's tokens and failed
	// requests, by kind ("checkpoint", "seal").
	Timestamps, TimestampFailures map[string]int64
	Ready                         bool // the start-up (watches, catch-up scan) is done
	LatencyP50                    time.Duration
	LatencyP99                    time.Duration
}

func (m *metrics) stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Bytes: int64(m.bytes), Resealed: int64(m.resealed), IncompleteSealed: int64(m.incompleteSealed),
		Skipped: map[string]int64{}, Errors: map[Reason]int64{}, Overflows: int64(m.overflows),
		QueueDepth: m.queueDepth, Tracked: m.tracked, WatchedDirs: m.watchedDirs, ArchiveEntries: m.archiveEntries,
		ArchiveHealthy: m.archiveHealthy, SignerHealthy: m.signerHealthy, Ready: m.ready,
		LatencyP50: time.Duration(m.latency.quantile(0.5) * float64(time.Second)),
		LatencyP99: time.Duration(m.latency.quantile(0.99) * float64(time.Second))}
	for _, v := range m.sealed {
		s.Sealed += int64(v)
	}
	for k, v := range m.skipped {
		s.Skipped[k] = int64(v)
	}
	s.Timestamps, s.TimestampFailures = map[string]int64{}, map[string]int64{}
	for k, v := range m.timestamps {
		s.Timestamps[k] = int64(v)
	}
	for k, v := range m.timestampFails {
		s.TimestampFailures[k] = int64(v)
	}
	for k, v := range m.errors {
		s.Errors[k] = int64(v)
	}
	for _, v := range m.rescans {
		s.Rescans += int64(v)
	}
	return s
}

// write renders the metrics in the Prometheus text format.
func (m *metrics) write(w io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := bufio.NewWriter(w)
	head := func(name, typ, help string) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	one := func(name, typ, help string, v float64) {
		head(name, typ, help)
		fmt.Fprintf(b, "%s %s\n", name, num(v))
	}
	vec := func(name, typ, help, label string, vals map[string]float64) {
		head(name, typ, help)
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(b, "%s{%s=%q} %s\n", name, label, k, num(vals[k]))
		}
	}
	hist := func(name, help string, h *histogram) {
		head(name, "histogram", help)
		var cum uint64
		for i, ub := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(b, "%s_bucket{le=%q} %d\n", name, num(ub), cum)
		}
		fmt.Fprintf(b, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", name, h.count, name, num(h.sum), name, h.count)
	}
	u := func(mp map[string]uint64) map[string]float64 {
		out := map[string]float64{}
		for k, v := range mp {
			out[k] = float64(v)
		}
		return out
	}
	errs := map[string]float64{}
	for k, v := range m.errors {
		errs[string(k)] = float64(v)
	}
	vec("tlseal_watch_files_sealed_total", "counter", "Files sealed and appended to the archive, by kind.", "kind", u(m.sealed))
	one("tlseal_watch_bytes_sealed_total", "counter", "Original bytes of the files sealed.", float64(m.bytes))
	one("tlseal_watch_files_resealed_total", "counter", "Files sealed again because they changed after they were sealed (a new archive entry).", float64(m.resealed))
	one("tlseal_watch_files_incomplete_sealed_total", "counter", "Files sealed as they were after the maximum wait although not structurally complete.", float64(m.incompleteSealed))
	vec("tlseal_watch_files_skipped_total", "counter", "Files looked at and not sealed, by reason.", "reason", u(m.skipped))
	vec("tlseal_watch_errors_total", "counter", "Errors, by reason.", "reason", errs)
	vec("tlseal_watch_rescans_total", "counter", "Scans of the sources, by cause.", "cause", u(m.rescans))
	one("tlseal_watch_event_overflows_total", "counter", "Event queue overflows (each followed by a full rescan).", float64(m.overflows))
	one("tlseal_watch_queue_depth", "gauge", "Complete files waiting to be sealed or being sealed.", float64(m.queueDepth))
	one("tlseal_watch_tracked_files", "gauge", "Files waiting to be complete.", float64(m.tracked))
	one("tlseal_watch_watched_directories", "gauge", "Directories watched.", float64(m.watchedDirs))
	one("tlseal_watch_archive_entries", "gauge", "Entries in the archive's log.", float64(m.archiveEntries))
	one("tlseal_watch_archive_healthy", "gauge", "1 when the last append to the archive succeeded, 0 while appends fail.", b2f(m.archiveHealthy))
	one("tlseal_watch_signer_healthy", "gauge", "1 when the signing key signs, 0 while it does not (a token removed; sealing waits).", b2f(m.signerHealthy))
	vec("tlseal_watch_timestamps_total", "counter", "RFC 3161 tokens obtained from the TSA (--tsa), by kind: checkpoint or seal (--tsa-per-file).", "kind", u(m.timestamps))
	vec("tlseal_watch_timestamp_failures_total", "counter", "TSA requests that failed, by kind; a seal is then archived without its token (note timestamp.missing), a checkpoint kept for tlseal timestamp.", "kind", u(m.timestampFails))
	one("tlseal_watch_ready", "gauge", "1 once the watches are set up and the catch-up scan is done.", b2f(m.ready))
	last := 0.0
	if !m.lastSeal.IsZero() {
		last = float64(m.lastSeal.UnixNano()) / 1e9
	}
	one("tlseal_watch_last_seal_timestamp_seconds", "gauge", "When the last file was archived (Unix time).", last)
	one("tlseal_watch_start_time_seconds", "gauge", "When the watcher started (Unix time).", float64(m.start.UnixNano())/1e9)
	hist("tlseal_watch_seal_latency_seconds", "From the file's last change (write, rename) to its archive entry being durable.", m.latency)
	hist("tlseal_watch_ingest_duration_seconds", "Sealing and appending one file to the archive.", m.ingest)
	return b.Flush()
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func num(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
