package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlseal/tlseal/archive"
	"github.com/tlseal/tlseal/certstore"
	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/internal/p256verify"
	"github.com/tlseal/tlseal/report"
	"github.com/tlseal/tlseal/timeline"
	"github.com/tlseal/tlseal/verify"
)

// cmdOriginals writes n unsealed Engage-style event files for tlseal ingest,
// numbered from -first, -per-dir to a subdirectory (dNNNN/event-NNNNNNN.json),
// each padded so that its sealed form in an archive is about -size bytes.
// The seal's length is measured once with a probe seal that carries a chain
// link, as archived seals do.
func cmdOriginals(args []string) error {
	fs := flag.NewFlagSet("originals", flag.ContinueOnError)
	certPath := fs.String("cert", "", "signer certificate PEM (for the probe seal)")
	keyPath := fs.String("key", "", "signer key PEM (for the probe seal)")
	n := fs.Int("n", 10000, "number of files")
	first := fs.Int("first", 0, "number of the first file")
	perDir := fs.Int("per-dir", 1000, "files per subdirectory")
	size := fs.Int("size", 2048, "approximate size of each file once sealed in an archive")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *n < 0 || *perDir < 1 {
		return errors.New("usage: benchtool originals -cert C -key K -n N [-first K] [-per-dir D] -size B DIR")
	}
	dir := fs.Arg(0)
	signer, err := loadSigner(*certPath, *keyPath)
	if err != nil {
		return err
	}
	start := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	var out memfile.File
	base := padEvent(0, start, 0)
	sealed, err := timeline.Seal(&out, bytes.NewReader(base), int64(len(base)), timeline.SealOptions{
		Name: "d0000/event-0000000.json", Signer: signer,
		Chain: &timeline.Chain{ID: "00000000-0000-4000-8000-000000000000", Seq: 1000000, Prev: fmt.Sprintf("%064x", 0)},
	})
	if err != nil {
		return err
	}
	overhead := int(sealed.SealedSize) - len(base)
	var total int64
	for i := *first; i < *first+*n; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("d%04d", i / *perDir))
		if i == *first || i%*perDir == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
		}
		b := padEvent(i, start, 0)
		b = padEvent(i, start, max(0, *size-overhead-len(b)))
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("event-%07d.json", i)), b, 0o644); err != nil {
			return err
		}
		total += int64(len(b))
	}
	fmt.Printf("%d files, %d bytes, %.0f bytes each on average (about %d once sealed)\n",
		*n, total, float64(total)/float64(max(*n, 1)), *size)
	return nil
}

// cmdSHA256Par is "N cores × Go SHA-256": Go's SHA-256 of every regular
// file under the arguments (directories walked) or named in -list, by -jobs
// goroutines (default: one per CPU), each reading in 1 MiB pieces as tlseal
// does. It prints one summary line (files, bytes, digest of the digests in
// walk order, so that the work cannot be skipped), not one line per file.
func cmdSHA256Par(args []string) error { return hashPar("sha256par", args, false) }

// cmdFloor is the floor of an audit (issue 11): what any auditor that
// checks every seal must do at the least, on every core. sha256par, plus one
// ECDSA P-256 signature verification per file (of a signature made once at
// the start: the cost of a verification does not depend on the message).
// Nothing is parsed, no log is read, no report is written. By default the
// verification is crypto/ecdsa's, the floor as the issue defines it;
// -verifier table uses tlseal's internal/p256verify (which tlseal audit
// uses: a table of the key's multiples from its 64th use on), the stricter
// floor for a verifier that does the same.
func cmdFloor(args []string) error { return hashPar("floor", args, true) }

func hashPar(name string, args []string, verifyEach bool) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	jobs := fs.Int("jobs", 0, "goroutines (0: GOMAXPROCS)")
	list := fs.String("list", "", "file of paths, one a line (instead of, or besides, the arguments)")
	verifier := "ecdsa"
	if verifyEach {
		fs.StringVar(&verifier, "verifier", verifier, "ecdsa (crypto/ecdsa) or table (internal/p256verify, as tlseal audit)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	verifyASN1 := ecdsa.VerifyASN1
	switch verifier {
	case "ecdsa":
	case "table":
		verifyASN1 = p256verify.VerifyASN1
	default:
		return fmt.Errorf("-verifier %q: want ecdsa or table", verifier)
	}
	if *jobs <= 0 {
		*jobs = runtime.GOMAXPROCS(0)
	}
	var paths []string
	if *list != "" {
		data, err := os.ReadFile(*list)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				paths = append(paths, l)
			}
		}
	}
	for _, root := range fs.Args() {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(paths) == 0 {
		return fmt.Errorf("usage: benchtool %s [-jobs N] [-list FILE] [FILE|DIR...] (no files given)", name)
	}
	var key *ecdsa.PrivateKey
	var sig, digest []byte
	if verifyEach {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return err
		}
		d := sha256.Sum256([]byte("floor"))
		digest = d[:]
		if sig, err = ecdsa.SignASN1(rand.Reader, key, digest); err != nil {
			return err
		}
	}
	var verified atomic.Int64
	sums := make([][sha256.Size]byte, len(paths))
	var next, total atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for range *jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			h := sha256.New()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(paths) {
					return
				}
				n, err := hashFile(paths[i], h, buf)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				total.Add(n)
				h.Sum(sums[i][:0])
				if verifyEach && verifyASN1(&key.PublicKey, digest, sig) {
					verified.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	all := sha256.New()
	for _, s := range sums {
		all.Write(s[:])
	}
	fmt.Printf("%d files, %d bytes, sha256 of the digests %x", len(paths), total.Load(), all.Sum(nil))
	if verifyEach {
		fmt.Printf(", %d P-256 signatures verified (%s)", verified.Load(), verifier)
	}
	fmt.Println()
	return nil
}

func hashFile(path string, h interface {
	io.Writer
	Reset()
}, buf []byte) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h.Reset()
	return io.CopyBuffer(h, struct{ io.Reader }{f}, buf)
}

// cmdAudit is tlseal audit's work in process (verify.Archive with the
// items spooled, then the JSON report written to nowhere), for profiling:
// -cpuprofile writes a CPU profile, -memprofile a heap profile at the end,
// -peakheap a heap profile taken when the live heap was largest. -stage
// stops early, to see what each part costs. The command line is the
// reference; this is its diagnostic twin, as benchtool seal is tlseal
// sign's.
func cmdAudit(args []string) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	caPath := fs.String("ca", "", "trust anchor PEM")
	jobs := fs.Int("jobs", 0, "workers (0: one per CPU)")
	filesFrom := fs.String("files-from", "", "audit only the files named in FILE")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile")
	traceOut := fs.String("trace", "", "write an execution trace (go tool trace: which goroutine ran when, idle cores)")
	memProfile := fs.String("memprofile", "", "write a heap profile at the end (in use: the result and the report; alloc_space: everything)")
	peakHeap := fs.String("peakheap", "", "write a heap profile of the largest live heap seen (polled every 50 ms)")
	out := fs.String("o", "", "write the JSON report here (default: discarded)")
	spool := fs.Bool("spool", true, "keep the items in a temporary file, as tlseal audit does")
	// tlseal audit sets a soft heap limit of 96 MiB unless GOMEMLIMIT is
	// set (auditMemoryLimit in cmd/tlseal/audit.go): so does this, by default.
	memLimit := fs.Int64("memlimit", 96<<20, "soft heap limit in bytes unless GOMEMLIMIT is set (0: none)")
	stage := fs.String("stage", "report", "how far to go: check (archive.Check alone: log, files, signatures),\n"+
		"archive (verify.Archive: also the signer chains, one result per entry), report (also the JSON report)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *caPath == "" {
		return errors.New("usage: benchtool audit -ca CA [-stage check|archive|report] [-jobs N] [-files-from F] " +
			"[-cpuprofile F] [-trace F] [-memprofile F] [-peakheap F] [-memlimit BYTES] [-spool=false] [-o REPORT] ARCHIVE")
	}
	dir := fs.Arg(0)
	ca, err := readCert(*caPath)
	if err != nil {
		return err
	}
	trust := verify.NewTrust([]*x509.Certificate{ca})
	opts := verify.ArchiveOptions{Jobs: *jobs, Shard: verify.Shard{I: 0, N: 1}, Spool: *spool}
	if *filesFrom != "" {
		f, err := os.Open(*filesFrom)
		if err != nil {
			return err
		}
		opts.Names, err = archive.ReadNameList(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if *memLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(*memLimit)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *traceOut != "" {
		f, err := os.Create(*traceOut)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	if *peakHeap != "" {
		stop := watchPeakHeap(*peakHeap)
		defer func() {
			if peak := stop(); peak > 0 {
				fmt.Printf("largest live heap seen: %.1f MiB (profile in %s)\n", float64(peak)/(1<<20), *peakHeap)
			}
		}()
	}
	started := time.Now()
	switch *stage {
	case "check":
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		cr, err := archive.Check(dir, archive.CheckOptions{Roots: pool, Jobs: *jobs})
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d entries, %d problems; archive.Check %v\n", dir, cr.Size, len(cr.Problems), time.Since(started).Round(time.Millisecond))
		if len(cr.Problems) > 0 {
			return fmt.Errorf("%d problems, the first: %v", len(cr.Problems), cr.Problems[0])
		}
		return nil
	case "archive", "report":
	default:
		return fmt.Errorf("-stage %q: check, archive or report", *stage)
	}
	res, err := verify.Archive(context.Background(), dir, trust, opts)
	if err != nil {
		return err
	}
	defer res.Close() // the spool file
	elapsed := time.Since(started)
	if *stage == "archive" {
		fmt.Printf("%s: %d entries, verdict %s; verify.Archive %v\n", dir, res.Entries, res.Verdict, elapsed.Round(time.Millisecond))
		if res.Verdict != verify.Passed {
			return fmt.Errorf("verdict %s", res.Verdict)
		}
		return nil
	}
	rep := report.New([]string{"benchtool", "audit", dir}, trust, started)
	rep.AddArchive(res)
	rep.Finish(time.Now())
	var w io.Writer = io.Discard
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := report.WriteJSON(w, rep); err != nil {
		return err
	}
	if *memProfile != "" {
		// In use: what the audit and its report keep; alloc_space: every
		// allocation, the report's encoding included.
		runtime.GC()
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		err = pprof.WriteHeapProfile(f)
		f.Close()
		if err != nil {
			return err
		}
		runtime.KeepAlive(rep)
	}
	fmt.Printf("%s: %d entries, %d items, %d bytes, verdict %s; verify.Archive %v, with the report %v\n",
		dir, res.Entries, rep.Summary.Items, rep.Summary.Bytes, rep.Verdict,
		elapsed.Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
	if rep.Verdict != verify.Passed {
		return fmt.Errorf("verdict %s", rep.Verdict)
	}
	return nil
}

// watchPeakHeap polls the live heap (as of the last collection) and, each
// time it is 2% above the largest seen so far, writes a heap profile to
// path: at the end path holds the profile of (about) the peak. stop ends
// the watch and returns the peak in bytes.
func watchPeakHeap(path string) (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	done := make(chan struct{})
	finished := make(chan uint64)
	go func() {
		var peak, written uint64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				finished <- peak
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				continue
			}
			live := sample[0].Value.Uint64()
			peak = max(peak, live)
			if live > written+written/50 {
				if f, err := os.Create(path); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
					written = live
				}
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-finished
	}
}

// readCert reads the first certificate of a PEM (or DER) file.
func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := certstore.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs[0], nil
}
