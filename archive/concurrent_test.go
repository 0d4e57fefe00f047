package archive

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestReadersBesideWriter runs readers while a writer appends: every
// reader sees a consistent prefix, a verifying checkpoint, verifiable
// proofs and entries that read cleanly.
func TestReadersBesideWriter(t *testing.T) {
	env := newEnv(t)
	dir := t.TempDir()
	o := env.opts(nil)
	o.CheckpointEvery = 4
	w, err := Create(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	srcs := make([]string, 60)
	for i := range srcs {
		srcs[i] = env.writeJSON(eventName(i), i)
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last int64
			for !done.Load() {
				r, err := OpenReader(dir)
				if err != nil {
					t.Error(err)
					return
				}
				cp, key, err := r.Checkpoint()
				if err != nil {
					t.Error(err)
					r.Close()
					return
				}
				if r.Size() < last || cp.Size > r.Size() {
					t.Errorf("size went from %d to %d (checkpoint %d)", last, r.Size(), cp.Size)
				}
				last = r.Size()
				for i := int64(0); i < r.Size(); i++ {
					e, err := r.Entry(i)
					if err != nil {
						t.Errorf("entry %d of %d: %v", i, r.Size(), err)
						break
					}
					if i < cp.Size {
						p, err := r.Prove(e)
						if err == nil {
							_, err = VerifyProof(p, cp.Origin, nil, key.Cert.PublicKey)
						}
						if err != nil {
							t.Errorf("proof %d: %v", i, err)
						}
					}
				}
				r.Close()
			}
		}()
	}
	for i, src := range srcs {
		if _, err := w.Ingest(src, eventName(i)); err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
	w.Close()
	mustCheck(t, dir, CheckOptions{})
}
