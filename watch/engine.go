package watch

import (
	"container/heap"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"sync"
	"time"
)

// The engine decides when each file is looked at: it owns one item per path
// seen (by an event or a scan), a timer for the earliest due item, the queue
// of files found stable, and the pool of workers that check and seal them.
// Everything but the workers runs on one goroutine (run), so the scheduling
// state needs no locks; the timing is tested under testing/synctest.

// touchKind says what a touch reports.
type touchKind uint8

const (
	tEvent      touchKind = iota // the file was written, created, renamed into place or chmodded
	tScan                        // a scan found the file (fi set)
	tRemove                      // the file was removed or renamed away
	tRemoveTree                  // a directory was removed or renamed away
	tBarrier                     // every touch sent before it has been handled: close done
)

// touch is a report about a path, from the event reader or a scan.
type touch struct {
	kind touchKind
	path string // absolute
	src  *source
	rel  string        // relative to src.Dir, OS separators
	name string        // the source name
	fi   fs.FileInfo   // tScan only
	done chan struct{} // tBarrier only
}

// item is the scheduling state of one path.
type item struct {
	path, rel, name string
	src             *source
	lastEvent       time.Time // last event (for a scanned file: its mtime, at most now)
	prev            StatKey   // stat at the previous look
	hasPrev         bool
	due             time.Time
	index           int  // in the heap, -1 when not in it
	busy            bool // queued for or held by a worker
	dirty           bool // touched while busy: look again afterwards
	attempts        int  // consecutive retried errors
	polls           int  // consecutive incomplete outcomes
	incomplete      bool // found stable but incomplete since the last change
}

// job is the work handed to a worker: a file found stable.
type job struct {
	it              *item // owned by the engine goroutine: workers do not touch it
	path, rel, name string
	src             *source
	key             StatKey   // the stat when it was found stable
	lastChange      time.Time // its last event or mtime, whichever is later
	asIs            bool      // unchanged and incomplete for MaxWait: seal it as it is
	attempt         int       // retries so far (0: the first attempt)
}

// outcome is what a worker did with a job.
type outcome uint8

const (
	outDone       outcome = iota // sealed, or nothing to do until the file changes
	outRejected                  // cannot be sealed as it is: not looked at again until its stat changes
	outIncomplete                // not complete yet: look again later
	outChanged                   // changed since it was found stable: wait for a quiet period again
	outRetry                     // an error that may go away: look again after a backoff
	outVanished                  // the file is gone
)

// result is a worker's report.
type result struct {
	it    *item
	out   outcome
	key   StatKey
	fatal error // the watcher cannot go on (a corrupt archive): Run returns it
}

type engine struct {
	quiet, maxWait, retryMin, retryMax, drain time.Duration
	pollMax                                   time.Duration
	workers                                   int
	tick                                      time.Duration

	// stat is lstat(2). known reports a stat already archived (so that
	// scans and events of unchanged files cost nothing).
	stat  func(path string) (fs.FileInfo, error)
	known func(name string, key StatKey) bool
	// work checks and seals one file; it runs on a worker goroutine.
	work func(ctx context.Context, j *job) (outcome, StatKey, error)
	// onTick runs on the engine goroutine every tick (heartbeat, watchdog).
	onTick func(now time.Time)
	// onDrain runs when the context is cancelled, before the drain.
	onDrain func()

	touches chan touch
	m       *metrics
	log     *slog.Logger

	items    map[string]*item
	due      itemHeap
	ready    []*item
	inflight int
	rejected map[string]StatKey
}

// newEngine returns an engine with the given timing (see Config).
func newEngine(c *Config, m *metrics, log *slog.Logger) *engine {
	return &engine{
		quiet: c.QuietPeriod, maxWait: c.MaxWait, retryMin: c.RetryMin, retryMax: c.RetryMax, drain: c.DrainTimeout,
		pollMax: 30 * time.Second, workers: c.Workers, tick: 500 * time.Millisecond,
		touches: make(chan touch, 256), m: m, log: log,
		items: map[string]*item{}, rejected: map[string]StatKey{},
	}
}

// run schedules until ctx is cancelled, then drains: the files already
// found complete are still sealed (for at most the drain timeout), the
// others are left to the next start's catch-up scan. It returns a fatal
// error of a worker, if any.
func (e *engine) run(ctx context.Context) error {
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	jobs := make(chan *job)
	results := make(chan result, e.workers)
	var wg sync.WaitGroup
	for range e.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				out, key, err := e.work(workCtx, j)
				var fatal error
				if err != nil && ReasonOf(err) == ReasonArchive {
					fatal = err
				}
				results <- result{it: j.it, out: out, key: key, fatal: fatal}
			}
		}()
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	ticker := time.NewTicker(e.tick)
	defer ticker.Stop()
	var (
		draining bool
		deadline <-chan time.Time
		fatal    error
		done     = ctx.Done()
	)
	for {
		now := time.Now()
		if !draining {
			e.runDue(now)
		}
		e.gauges()
		if draining && (len(e.ready) == 0 || fatal != nil) && e.inflight == 0 {
			return fatal
		}
		var send chan *job
		var next *job
		if len(e.ready) > 0 && fatal == nil {
			send, next = jobs, e.jobFor(e.ready[0], now)
		}
		if !draining {
			e.arm(timer, now)
		}
		select {
		case <-done:
			done = nil
			draining = true
			if e.onDrain != nil {
				e.onDrain()
			}
			if len(e.ready)+e.inflight > 0 {
				e.log.Info("draining: sealing the files already complete", "files", len(e.ready)+e.inflight, "timeout", e.drain.String())
			}
			d := time.NewTimer(e.drain)
			defer d.Stop()
			deadline = d.C
		case <-deadline:
			deadline = nil
			if n := len(e.ready); n > 0 {
				e.log.Warn("drain timeout: complete files left for the next start", "files", n)
			}
			e.ready = nil
			cancelWork()
		case send <- next:
			e.ready = e.ready[1:]
			e.inflight++
		case r := <-results:
			e.inflight--
			if r.fatal != nil && fatal == nil {
				fatal = r.fatal
				e.log.Error("stopping: the archive cannot be written", "err", r.fatal)
				if !draining {
					draining = true
					done = nil
					cancelWork()
					if e.onDrain != nil {
						e.onDrain()
					}
				}
			}
			e.finish(r, time.Now())
		case t := <-e.touches:
			e.handle(t, time.Now())
		case <-timer.C:
		case t := <-ticker.C:
			if e.onTick != nil {
				e.onTick(t)
			}
		}
	}
}

// arm sets the timer for the earliest due item.
func (e *engine) arm(timer *time.Timer, now time.Time) {
	d := time.Hour
	if len(e.due) > 0 {
		d = max(e.due[0].due.Sub(now), 0)
	}
	timer.Reset(d)
}

func (e *engine) gauges() {
	if e.m == nil {
		return
	}
	e.m.with(func(m *metrics) {
		m.queueDepth = int64(len(e.ready) + e.inflight)
		m.tracked = int64(len(e.items)) - m.queueDepth
	})
}

func (e *engine) jobFor(it *item, now time.Time) *job {
	lc := it.lastEvent
	if mt := time.Unix(0, it.prev.Mtime); mt.After(lc) && !mt.After(now) {
		lc = mt
	}
	return &job{it: it, path: it.path, rel: it.rel, name: it.name, src: it.src, key: it.prev, lastChange: lc,
		asIs: it.incomplete && now.Sub(lc) >= e.maxWait, attempt: it.attempts}
}

// handle applies a touch.
func (e *engine) handle(t touch, now time.Time) {
	switch t.kind {
	case tBarrier:
		close(t.done)
	case tEvent:
		delete(e.rejected, t.path)
		it := e.items[t.path]
		if it == nil {
			it = &item{path: t.path, rel: t.rel, name: t.name, src: t.src, index: -1}
			e.items[t.path] = it
		}
		it.lastEvent = now
		it.incomplete, it.polls = false, 0
		if it.busy {
			it.dirty = true
			return
		}
		e.schedule(it, now.Add(e.quiet))
	case tScan:
		if e.items[t.path] != nil {
			return // already tracked: its own schedule stands
		}
		key := statKeyOf(t.fi)
		if k, ok := e.rejected[t.path]; ok && k == key {
			return
		}
		if e.known != nil && e.known(t.name, key) {
			return
		}
		it := &item{path: t.path, rel: t.rel, name: t.name, src: t.src, index: -1}
		it.lastEvent = t.fi.ModTime()
		if it.lastEvent.After(now) {
			it.lastEvent = now
		}
		e.items[t.path] = it
		e.schedule(it, it.lastEvent.Add(e.quiet))
	case tRemove:
		delete(e.rejected, t.path)
		e.drop(t.path)
	case tRemoveTree:
		for p := range e.rejected {
			if within(p, t.path) {
				delete(e.rejected, p)
			}
		}
		for p := range e.items {
			if within(p, t.path) {
				e.drop(p)
			}
		}
	}
}

// drop forgets a path that is gone (a busy item is looked at again once its
// worker is done: the path may have been recreated).
func (e *engine) drop(path string) {
	it := e.items[path]
	if it == nil {
		return
	}
	if it.busy {
		it.dirty = true
		return
	}
	e.remove(it)
}

func (e *engine) remove(it *item) {
	if it.index >= 0 {
		heap.Remove(&e.due, it.index)
	}
	delete(e.items, it.path)
}

// schedule (re)sets when an idle item is looked at.
func (e *engine) schedule(it *item, at time.Time) {
	it.due = at
	if it.index >= 0 {
		heap.Fix(&e.due, it.index)
	} else {
		heap.Push(&e.due, it)
	}
}

// runDue looks at the items that are due.
func (e *engine) runDue(now time.Time) {
	for len(e.due) > 0 && !e.due[0].due.After(now) {
		it := heap.Pop(&e.due).(*item)
		e.look(it, now)
	}
}

// look decides about a due item: gone, unchanged since archived, not yet
// stable (rescheduled) or stable (queued for a worker).
func (e *engine) look(it *item, now time.Time) {
	fi, err := e.stat(it.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			e.remove(it)
			return
		}
		r := sourceErrorReason(err)
		e.m.countError(r)
		e.log.Warn("cannot look at the file", "path", it.path, "reason", r, "err", err)
		if r == ReasonVanished {
			e.remove(it)
			return
		}
		it.attempts++
		e.schedule(it, now.Add(e.backoff(it.attempts)))
		return
	}
	if !fi.Mode().IsRegular() {
		e.remove(it)
		return
	}
	key := statKeyOf(fi)
	if k, ok := e.rejected[it.path]; ok && k == key {
		e.remove(it)
		return
	}
	if e.known != nil && e.known(it.name, key) {
		e.remove(it)
		return
	}
	mtime := fi.ModTime()
	quietSinceEvent := now.Sub(it.lastEvent) >= e.quiet
	oldMtime := !mtime.After(now.Add(-e.quiet))
	same := it.hasPrev && it.prev == key
	it.prev, it.hasPrev = key, true
	if !same {
		it.incomplete, it.polls = false, 0
	}
	if quietSinceEvent && (oldMtime || same) {
		it.busy = true
		e.ready = append(e.ready, it)
		return
	}
	at := it.lastEvent.Add(e.quiet)
	if !oldMtime && !mtime.After(now) {
		at = later(at, mtime.Add(e.quiet))
	} else if !oldMtime {
		at = later(at, now.Add(e.quiet)) // mtime in the future (clock skew): compare two looks instead
	}
	e.schedule(it, later(at, now.Add(time.Millisecond)))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// finish applies a worker's result.
func (e *engine) finish(r result, now time.Time) {
	it := r.it
	if it == nil {
		return
	}
	it.busy = false
	switch r.out {
	case outDone, outRejected, outVanished:
		if r.out == outRejected {
			e.rejected[it.path] = r.key
		}
		it.attempts = 0
		if it.dirty {
			it.dirty, it.hasPrev = false, false
			e.schedule(it, later(it.lastEvent.Add(e.quiet), now))
			return
		}
		e.remove(it)
	case outIncomplete:
		it.attempts = 0
		if it.dirty {
			it.dirty = false
			e.schedule(it, later(it.lastEvent.Add(e.quiet), now))
			return
		}
		it.incomplete = true
		it.polls++
		lc := it.lastEvent
		if mt := time.Unix(0, it.prev.Mtime); mt.After(lc) && !mt.After(now) {
			lc = mt
		}
		at := now.Add(e.poll(it.polls))
		if limit := lc.Add(e.maxWait); limit.Before(at) {
			at = later(limit, now)
		}
		e.schedule(it, at)
	case outChanged:
		it.dirty, it.hasPrev = false, false
		it.lastEvent = now
		e.schedule(it, now.Add(e.quiet))
	case outRetry:
		it.dirty = false
		it.attempts++
		e.schedule(it, now.Add(e.backoff(it.attempts)))
	}
}

// backoff is the delay before retry n (n ≥ 1): RetryMin doubling to RetryMax.
func (e *engine) backoff(n int) time.Duration {
	d := e.retryMin
	for i := 1; i < n && d < e.retryMax; i++ {
		d *= 2
	}
	return min(d, e.retryMax)
}

// poll is the delay before looking again at an incomplete file (poll n ≥ 1):
// the quiet period (at least a second), doubling up to 30 s. Events of a
// writer resuming cut it short.
func (e *engine) poll(n int) time.Duration {
	d := max(e.quiet, time.Second)
	for i := 1; i < n && d < e.pollMax; i++ {
		d *= 2
	}
	return min(d, e.pollMax)
}

// itemHeap orders idle items by due time.
type itemHeap []*item

func (h itemHeap) Len() int           { return len(h) }
func (h itemHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h itemHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *itemHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	it.index = -1
	*h = old[:len(old)-1]
	return it
}
