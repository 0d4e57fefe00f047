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
func Files(ctx context.Context, paths []string, trust *Trust, jobs int, emit func(Outcome)) error {
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	work := make(chan int)
	slots := make([]chan Outcome, len(paths))
	for i := range slots {
		slots[i] = make(chan Outcome, 1)
	}
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				res, err := File(paths[i], trust)
				slots[i] <- Outcome{Index: i, Result: res, Err: err}
			}
		}()
	}
	// Feed at most jobs*32 items ahead of the one being emitted, so memory
	// stays bounded by the workers.
	ahead := make(chan struct{}, jobs*32)
	go func() {
		defer close(work)
		for i := range paths {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var err error
	for i := range paths {
		select {
		case out := <-slots[i]:
			<-ahead
			emit(out)
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	wg.Wait()
	return err
}
