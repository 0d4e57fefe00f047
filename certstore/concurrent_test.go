package certstore

import (
	"crypto/elliptic"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestConcurrentProcesses runs two processes (this test binary, re-executed
// in helper mode) that add elements to the same store at the same time:
// every element of both is there afterwards.
func TestConcurrentProcesses(t *testing.T) {
	path := newTestStore(t)
	start := filepath.Join(t.TempDir(), "go")
	const perProcess = 8
	var cmds []*exec.Cmd
	for _, prefix := range []string{"first", "second"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=add %s %s %d %s", helperEnv, path, prefix, perProcess, start))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	os.WriteFile(start, nil, 0o600) // both processes begin now
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	s, err := Open(path, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2*perProcess {
		t.Errorf("%d elements, want %d", s.Len(), 2*perProcess)
	}
	for _, prefix := range []string{"first", "second"} {
		for i := range perProcess {
			if _, err := s.Get(fmt.Sprintf("%s-%d", prefix, i)); err != nil {
				t.Error(err)
			}
		}
	}
}

// TestConcurrentGoroutines: flock locks conflict between separately opened
// descriptors, so writers within one process queue as well.
func TestConcurrentGoroutines(t *testing.T) {
	path := newTestStore(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		cert, key := newCert(t, "c", elliptic.P256(), false, nil, nil)
		wg.Go(func() {
			errs <- Update(path, testPassword, func(s *Store) error {
				return s.Add(Element{ID: fmt.Sprintf("g%d", i), Cert: cert, Key: key})
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(path, testPassword)
	if err != nil || s.Len() != n {
		t.Fatalf("len %d, %v", s.Len(), err)
	}
}

func TestLocked(t *testing.T) {
	path := newTestStore(t)
	unlock, err := lock(path, path)
	if err != nil {
		t.Fatal(err)
	}
	old := LockTimeout
	LockTimeout = 50 * time.Millisecond
	defer func() { LockTimeout = old }()
	err = Update(path, testPassword, func(*Store) error { t.Error("callback ran"); return nil })
	wantReason(t, err, ReasonLocked)
	_, err = Create(filepath.Join(filepath.Dir(path), "store.ecs"), testPassword, CreateOptions{Iterations: testIter})
	wantReason(t, err, ReasonLocked)
	// Readers do not need the lock.
	if _, err := Open(path, testPassword); err != nil {
		t.Error(err)
	}
	unlock()
	if err := Update(path, testPassword, func(*Store) error { return nil }); err != nil {
		t.Error(err)
	}
}
