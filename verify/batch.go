package verify

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
)

// ExpandPaths turns files and directories into the list of regular files to
// verify: directories are walked recursively, entries sorted, symlinks not
// followed out of them.
func ExpandPaths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		var files []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		out = append(out, files...)
	}
	return out, nil
}

// Outcome is the result of verifying one path: a judgement, or an error
// that prevented one (unreadable file).
type Outcome struct {
	Index  int
	Result *ItemResult
	Err    error
}

// Files verifies paths with jobs workers (0: one per CPU) and calls emit
// for each, in the order of paths, from the calling goroutine. Memory is
// bounded by the number of workers, not the number of files.
//
// Work is handed out in runs of consecutive paths, so that a 2 KiB file
// (about 50 µs of work) does not pay a channel handoff and a goroutine
// wakeup of its own on each side.
func Files(ctx context.Context, paths []string, trust *Trust, jobs int, emit func(Outcome)) error {
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	// A run is short enough that the workers finish together and the
	// first results come early, long enough to amortize the handoffs.
	size := min(16, max(1, len(paths)/(jobs*8)))
	type run struct {
		out  []Outcome
		done chan struct{}
	}
	work := make(chan *run, jobs)
	// pending holds the runs handed out, in order; its capacity bounds how
	// far the workers get ahead of emit.
	pending := make(chan *run, jobs*4)
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				for i := range r.out {
					o := &r.out[i]
					if ctx.Err() == nil {
						o.Result, o.Err = File(paths[o.Index], trust)
					} else {
						o.Err = ctx.Err()
					}
				}
				close(r.done)
			}
		}()
	}
	go func() {
		defer close(pending)
		defer close(work)
		for start := 0; start < len(paths); start += size {
			r := &run{out: make([]Outcome, min(size, len(paths)-start)), done: make(chan struct{})}
			for i := range r.out {
				r.out[i].Index = start + i
			}
			select {
			case pending <- r:
			case <-ctx.Done():
				return
			}
			work <- r // a worker always takes it: they stop only when work closes
		}
	}()
	var err error
	emitted := 0
	for r := range pending {
		select {
		case <-r.done:
		case <-ctx.Done():
		}
		if err = ctx.Err(); err != nil {
			break
		}
		for _, o := range r.out {
			emit(o)
		}
		emitted += len(r.out)
	}
	if err == nil && emitted < len(paths) {
		// The feeder saw the cancellation first and stopped handing out
		// runs: the outcomes are incomplete, which must not look like
		// success.
		err = ctx.Err()
	}
	if err != nil {
		// Let the feeder finish: it stops at the next run, the workers
		// skip what is left of theirs.
		for range pending {
		}
	}
	wg.Wait()
	return err
}
