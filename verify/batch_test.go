package verify_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlseal/tlseal/verify"
)

// TestFiles: the batch emits one outcome per path, in order, equal to what
// File says of each, whatever the number of workers and of files; small
// files (read whole) and large ones (streamed) are judged alike.
func TestFiles(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	when := time.Now().Add(-time.Hour)
	big := []byte(`{"notes":"` + strings.Repeat("x", 100<<10) + `"}`)
	var paths []string
	for i := range 40 {
		orig := []byte(fmt.Sprintf(`{"id":%d}`, i))
		if i%10 == 3 {
			orig = big
		}
		data := seal(t, p.signer, orig, when)
		if i%4 == 1 {
			data = flip(data, 2) // in the original's bytes
		}
		path := filepath.Join(dir, fmt.Sprintf("f%02d.json", i))
		if i != 7 { // f07 does not exist: a read error
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		paths = append(paths, path)
	}
	type judged struct {
		verdict verify.Verdict
		codes   string
		err     bool
	}
	judge := func(res *verify.ItemResult, err error) judged {
		if err != nil {
			return judged{err: true}
		}
		return judged{verdict: res.Verdict, codes: strings.Join(codes(res), " ")}
	}
	var want []judged
	for i, path := range paths {
		res, err := verify.File(path, p.trust)
		j := judge(res, err)
		switch {
		case i == 7 && !j.err, i != 7 && j.err:
			t.Fatalf("%s: %+v", path, j)
		case i%4 == 1 && i != 7 && (j.verdict != verify.Failed || !strings.Contains(j.codes, "content.digestMismatch")):
			t.Fatalf("%s: tampered, judged %+v", path, j)
		case i%4 != 1 && i != 7 && j.verdict != verify.Passed:
			t.Fatalf("%s: judged %+v", path, j)
		}
		want = append(want, j)
	}
	for _, n := range []int{0, 1, 5, len(paths)} {
		for _, jobs := range []int{0, 1, 2, 3, 16} {
			var got []judged
			var idx []int
			err := verify.Files(context.Background(), paths[:n], p.trust, jobs, func(o verify.Outcome) {
				idx = append(idx, o.Index)
				got = append(got, judge(o.Result, o.Err))
			})
			if err != nil {
				t.Fatalf("n=%d jobs=%d: %v", n, jobs, err)
			}
			for i := range idx {
				if idx[i] != i {
					t.Fatalf("n=%d jobs=%d: emitted out of order: %v", n, jobs, idx)
				}
			}
			if !slices.Equal(got, want[:n]) {
				t.Fatalf("n=%d jobs=%d: %+v, want %+v", n, jobs, got, want[:n])
			}
		}
	}
}

// TestFilesCancel: a cancelled batch stops emitting, returns the context's
// error and leaves no worker behind.
func TestFilesCancel(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	if err := os.WriteFile(path, seal(t, p.signer, []byte(`{}`), time.Now().Add(-time.Hour)), 0o644); err != nil {
		t.Fatal(err)
	}
	paths := slices.Repeat([]string{path}, 2000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := verify.Files(ctx, paths, p.trust, 2, func(o verify.Outcome) {
		if n++; n == 10 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || n >= len(paths) {
		t.Fatalf("err %v after %d outcomes", err, n)
	}
}

// A cancellation at any point is reported unless every outcome was
// emitted: a partial run must never look like a complete one.
func TestFilesCancelAnywhere(t *testing.T) {
	paths := make([]string, 300)
	for i := range paths {
		paths[i] = filepath.Join(t.TempDir(), "missing.json") // fast outcomes
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 3000 {
		jobs := 1 + round%4
		stopAt := 1 + rng.IntN(len(paths))
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		err := verify.Files(ctx, paths, nil, jobs, func(verify.Outcome) {
			if n++; n == stopAt {
				cancel()
			}
		})
		cancel()
		if n < len(paths) && !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d (jobs %d): %d of %d outcomes emitted, error %v", round, jobs, n, len(paths), err)
		}
	}
}
