//go:build unix

package archive

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/timeline"
)

// The crash-injection test re-executes the test binary as a helper process
// (TestCrashHelper, switched on by TLSEAL_ARCHIVE_CRASH_HELPER) that
// ingests source files into an archive in a loop, and SIGKILLs it: at a
// random moment, or deterministically at a named step of an append or of
// recovery (testHook). After every kill the archive must open, recover,
// verify entry by entry and stay consistent with every checkpoint seen.

const (
	envHelper     = "TLSEAL_ARCHIVE_CRASH_HELPER" // archive dir
	envSrc        = "TLSEAL_ARCHIVE_CRASH_SRC"
	envCert       = "TLSEAL_ARCHIVE_CRASH_CERT"
	envKey        = "TLSEAL_ARCHIVE_CRASH_KEY"
	envPoint      = "TLSEAL_ARCHIVE_CRASH_POINT" // "step:k": die at the k-th time step is reached
	envCheckpoint = "TLSEAL_ARCHIVE_CRASH_EVERY"
	envBatch      = "TLSEAL_ARCHIVE_CRASH_BATCH" // files to ingest before exiting normally
)

// crashPoints are the steps the helper can be killed at.
var crashPoints = []string{
	"recover.start", "pending.synced", "sealed.synced", "file.linked", "file.synced",
	"entries.write", // torn: half the record is written, then the kill
	"entries.synced", "hashes.written", "index.written",
	"checkpoint.write", "checkpoint.written", "recover.truncate", "recover.pending", "recover.done",
}

// recoverySetup maps recovery steps to the crash that gives them work.
var recoverySetup = map[string]string{
	"recover.pending":  "file.synced",   // a sealed file without its log entry
	"recover.truncate": "entries.write", // a torn record
}

// TestCrashHelper is the helper process; it does nothing in a normal run.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(envHelper)
	if dir == "" {
		t.Skip("helper process for TestCrashInjection")
	}
	if err := crashHelper(dir); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

func crashHelper(dir string) error {
	if p := os.Getenv(envPoint); p != "" {
		step, ks, _ := strings.Cut(p, ":")
		k, _ := strconv.Atoi(ks)
		seen := 0
		testHook = func(point string) bool {
			if point == "entries.torn" && step == "entries.write" {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
			if point != step {
				return false
			}
			if seen++; seen < k {
				return false
			}
			if point == "entries.write" {
				return true // tear the record, then die at entries.torn
			}
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never returns
		}
	}
	signer, err := loadSigner(os.Getenv(envCert), os.Getenv(envKey))
	if err != nil {
		return err
	}
	every, _ := strconv.Atoi(os.Getenv(envCheckpoint))
	w, err := OpenWriter(dir, Options{Signer: signer, CheckpointEvery: every, CheckpointInterval: 3 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	r, err := OpenReader(dir)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for e, err := range r.Entries() {
		if err != nil {
			return err
		}
		have[e.Name] = true
	}
	r.Close()
	fmt.Println("ready")
	src := os.Getenv(envSrc)
	batch, _ := strconv.Atoi(os.Getenv(envBatch))
	for k, done := 0, 0; done < batch; k++ {
		name, data := crashSource(k)
		if have[name] {
			continue
		}
		// Written afresh each time: a kill may have cut the last one short.
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		if _, err := w.IngestWithNotes(p, name, crashNotes(name)); err != nil {
			return err
		}
		done++
	}
	return w.Close()
}

// crashSource is source file k of the crash test: mostly small JSON
// events, now and then a short WAV, in a few directories.
func crashSource(k int) (string, []byte) {
	if k%41 == 7 {
		return fmt.Sprintf("d%d/rec-%06d.wav", k%5, k), samples.WAV(8000, 0.05+float64(k%4)*0.05, 440)
	}
	return fmt.Sprintf("d%d/e%06d.json", k%5, k), samples.EventJSON(k, sampleStart.Add(time.Duration(k)*time.Second), "rec.wav")
}

// crashNotes are the notes source name is ingested with: none for most, so
// that records of both versions alternate in the log.
func crashNotes(name string) []Note {
	switch h := nameHash(name) % 4; h {
	case 0:
		return []Note{{Code: "watch.incomplete", Severity: NoteWarning, Message: "crash test: " + name}}
	case 1:
		return []Note{{Code: "crash.test", Severity: NoteInfo, Message: "é\n\t" + name}, {Code: "crash.other", Severity: NoteError, Message: ""}}
	}
	return nil
}

func loadSigner(certPath, keyPath string) (*timeline.Signer, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	cert, err := timeline.ParseCertPEM(string(cb))
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(kb)
	if block == nil {
		return nil, fmt.Errorf("no PEM key")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	return timeline.NewSigner(cert, nil, key.(*ecdsa.PrivateKey))
}

func TestCrashInjection(t *testing.T) {
	kills := 200
	if testing.Short() {
		kills = 40
	}
	if s := os.Getenv("TLSEAL_CRASH_KILLS"); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TLSEAL_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (TLSEAL_CRASH_SEED reproduces the random choices), %d kills", seed, kills)
	rng := rand.New(rand.NewPCG(seed, 1))

	env := newEnv(t)
	work := t.TempDir()
	certPath, keyPath := env.leaf.Write(t, work, "signer")
	src := filepath.Join(work, "src")
	dir := filepath.Join(work, "archive")
	w, err := Create(dir, env.opts(nil))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()

	st := &crashState{t: t, env: env, dir: dir, names: map[string]int64{}}
	stats := map[string]int{}
	next := "" // a crash point the previous kill prepared
	start := time.Now()
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
		cmd.Env = append(os.Environ(), envHelper+"="+dir, envSrc+"="+src, envCert+"="+certPath, envKey+"="+keyPath,
			envCheckpoint+"="+strconv.Itoa(1+rng.IntN(8)), envBatch+"="+strconv.Itoa(5+rng.IntN(20)))
		mode, recoverNow := "random", rng.IntN(3) != 0 || i == kills-1
		if point := next; point != "" || rng.IntN(3) == 0 {
			prepared := point != ""
			if !prepared {
				point = crashPoints[rng.IntN(len(crashPoints))]
			}
			next = ""
			// Recovery steps that only run when there is something to
			// repair: first leave that, unrepaired, then kill there.
			if setup, ok := recoverySetup[point]; ok && !prepared && i < kills-2 {
				point, next, recoverNow = setup, point, false
			}
			mode = point
			k := 1 + rng.IntN(4)
			if strings.HasPrefix(point, "recover.") {
				k = 1 // recovery runs once per helper
			}
			cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%s:%d", envPoint, point, k))
		}
		stdout, _ := cmd.StdoutPipe()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "ready" {
					close(ready)
				}
			}
			io.Copy(io.Discard, stdout)
		}()
		if mode == "random" {
			if rng.IntN(4) == 0 {
				// During start-up and recovery.
				time.Sleep(time.Duration(rng.IntN(15000)) * time.Microsecond)
			} else {
				select {
				case <-ready:
				case <-time.After(20 * time.Second):
				}
				time.Sleep(time.Duration(rng.IntN(25000)) * time.Microsecond)
			}
			cmd.Process.Signal(syscall.SIGKILL)
		}
		err := cmd.Wait()
		killed := false
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				killed = true
			}
		}
		if err != nil && !killed {
			t.Fatalf("kill %d (%s): helper failed: %v\n%s", i, mode, err, stderr.String())
		}
		if killed {
			stats["killed "+mode]++
		} else {
			stats["finished "+mode]++
		}
		// Now and then the next helper recovers instead of the parent,
		// so that kills land in recovery too.
		for _, m := range st.verify(i, recoverNow) {
			stats[m]++
		}
		if t.Failed() {
			t.Fatalf("kill %d (%s) left a bad archive", i, mode)
		}
	}
	// Finally the full audit: every file against its entry, the tree, the
	// chain, nothing unlisted.
	res := mustCheck(t, dir, CheckOptions{}, CodeQuarantined)
	var keys []string
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "\n  %4d  %s", stats[k], k)
	}
	t.Logf("%d kills in %v; %d entries, %d files quarantined; outcomes:%s", kills, time.Since(start).Round(time.Millisecond),
		res.Size, len(res.Problems), sb.String())
}

// crashState is what the parent knows between kills.
type crashState struct {
	t        *testing.T
	env      *testEnv
	dir      string
	cp       *Checkpoint      // the latest checkpoint seen
	verified int64            // entries verified so far
	prevHash string           // envelope hash of the last verified entry
	names    map[string]int64 // source and archive names seen → seq
}

// verify checks the archive after a kill and returns what recovery did.
func (s *crashState) verify(iter int, recoverNow bool) []string {
	t := s.t
	// 1. It opens as it was left, without recovery: the checkpoint
	// verifies, the tree under it is intact and extends the last one.
	r, err := OpenReader(s.dir)
	if err != nil {
		t.Fatalf("kill %d: open before recovery: %v", iter, err)
	}
	s.checkCheckpoint(r, iter, "before recovery")
	r.Close()
	if !recoverNow {
		return nil
	}

	// 2. A writer recovers it.
	var logs logBuffer
	w, err := OpenWriter(s.dir, s.env.opts(&logs))
	if err != nil {
		t.Fatalf("kill %d: recovery: %v\n%s", iter, err, logs.String())
	}
	if err := w.Close(); err != nil {
		t.Fatalf("kill %d: close after recovery: %v", iter, err)
	}
	var did []string
	for _, m := range []struct{ needle, stat string }{
		{"completed an ingest", "recovery completed a file without a log entry"},
		{"quarantined", "recovery quarantined a file"},
		{"torn tail", "recovery repaired a torn log tail"},
		{"unfinished sealed file", "recovery removed an unfinished sealed file"},
		{"unfinished log/pending", "recovery ignored a torn pending record"},
		{"temporary file", "recovery removed a temporary checkpoint file"},
	} {
		if strings.Contains(logs.String(), m.needle) {
			did = append(did, m.stat)
		}
	}

	// 3. After recovery: the checkpoint covers everything, every new
	// entry verifies, chains on, and nothing is duplicated.
	r, err = OpenReader(s.dir)
	if err != nil {
		t.Fatalf("kill %d: open after recovery: %v", iter, err)
	}
	defer r.Close()
	cp := s.checkCheckpoint(r, iter, "after recovery")
	if cp.Size != r.Size() {
		t.Errorf("kill %d: the checkpoint after close covers %d of %d entries", iter, cp.Size, r.Size())
	}
	if r.Size() < s.verified {
		t.Fatalf("kill %d: the log shrank from %d to %d entries", iter, s.verified, r.Size())
	}
	for i := s.verified; i < r.Size(); i++ {
		e, err := r.Entry(i)
		if err != nil {
			t.Fatalf("kill %d: entry %d: %v", iter, i, err)
		}
		s.verifyEntry(r, e, iter)
	}
	s.verified = r.Size()
	// Files of old entries are still there (cheap check; the content is
	// covered by the final audit).
	for i := int64(0); i < s.verified; i += 1 + s.verified/50 {
		e, _ := r.Entry(i)
		if st, err := os.Stat(r.FilePath(e)); err != nil || st.Size() != e.SealedSize {
			t.Errorf("kill %d: the file of entry %d changed: %v", iter, e.Seq, err)
		}
	}
	return did
}

func (s *crashState) checkCheckpoint(r *Reader, iter int, when string) *Checkpoint {
	t := s.t
	cp, _, err := r.Checkpoint()
	if err != nil {
		t.Fatalf("kill %d %s: checkpoint: %v", iter, when, err)
	}
	root, err := r.TreeHash(cp.Size)
	if err != nil || root != cp.Root {
		t.Fatalf("kill %d %s: the root at size %d is not the checkpoint's (%v)", iter, when, cp.Size, err)
	}
	if s.cp != nil {
		if cp.Size < s.cp.Size {
			t.Fatalf("kill %d %s: checkpoint size went from %d to %d", iter, when, s.cp.Size, cp.Size)
		}
		var proof []tlog.Hash
		if s.cp.Size > 0 {
			if proof, err = r.ConsistencyProof(s.cp.Size, cp.Size); err != nil {
				t.Fatal(err)
			}
		}
		if err := VerifyConsistency(s.cp, cp, proof); err != nil {
			t.Fatalf("kill %d %s: checkpoint %d does not extend checkpoint %d: %v", iter, when, cp.Size, s.cp.Size, err)
		}
	}
	s.cp = cp
	return cp
}

func (s *crashState) verifyEntry(r *Reader, e *Entry, iter int) {
	t := s.t
	if e.Envelope == nil {
		t.Fatalf("kill %d: entry %d: %v", iter, e.Seq, e.EnvelopeErr)
	}
	if c := e.Envelope.Chain; c == nil || c.ID != r.Metadata().ChainID || c.Seq != e.Seq || c.Prev != s.prevHash {
		t.Fatalf("kill %d: entry %d: chain %+v, previous envelope %s", iter, e.Seq, c, s.prevHash)
	}
	s.prevHash = e.EnvelopeSHA256()
	if seq, dup := s.names[e.Name]; dup {
		t.Fatalf("kill %d: source %s is in the log twice (entries %d and %d)", iter, e.Name, seq, e.Seq)
	}
	s.names[e.Name] = e.Seq
	if e.ArchiveName != e.Name {
		t.Fatalf("kill %d: entry %d: archive name %s for source %s (a duplicate version)", iter, e.Seq, e.ArchiveName, e.Name)
	}
	if want := crashNotes(e.Name); !reflect.DeepEqual(e.Notes, want) {
		t.Fatalf("kill %d: entry %d: notes %+v, ingested with %+v", iter, e.Seq, e.Notes, want)
	}
	f, err := os.Open(r.FilePath(e))
	if err != nil {
		t.Fatalf("kill %d: entry %d: %v", iter, e.Seq, err)
	}
	defer f.Close()
	st, _ := f.Stat()
	o, err := timeline.Open(f, st.Size())
	if err != nil || len(o.Problems) > 0 {
		t.Fatalf("kill %d: entry %d: %v %v", iter, e.Seq, err, o.Problems)
	}
	if string(o.EnvelopeBytes) != string(e.EnvelopeBytes) || st.Size() != e.SealedSize {
		t.Fatalf("kill %d: entry %d: the file is not the logged seal", iter, e.Seq)
	}
	if _, err := timeline.VerifySignature(o.Envelope); err != nil {
		t.Fatalf("kill %d: entry %d: %v", iter, e.Seq, err)
	}
	p, err := r.Prove(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyProof(p, r.Metadata().Origin, e.EnvelopeBytes, s.env.signer.Cert.PublicKey); err != nil {
		t.Fatalf("kill %d: entry %d: proof: %v", iter, e.Seq, err)
	}
}
