package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// scalePoint is one size of the memory-growth archive (results/scale.tsv).
type scalePoint struct {
	entries, added                      float64
	ingestS, auditS                     float64
	rssCLI, rssCheck, rssArchive, rssRe float64 // KiB
}

func loadScale(dir string) ([]scalePoint, error) {
	f, err := os.Open(filepath.Join(dir, "scale.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pts []scalePoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != 8 {
			continue
		}
		var v [8]float64
		for i, s := range fs {
			if v[i], err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
				return nil, fmt.Errorf("scale.tsv: %q: %w", sc.Text(), err)
			}
		}
		pts = append(pts, scalePoint{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]})
	}
	return pts, sc.Err()
}

// fitLine is the least-squares line y = a + b·x through the points.
func fitLine(xs, ys []float64) (a, b float64) {
	n := float64(len(xs))
	if n == 0 {
		return 0, 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	if d := n*sxx - sx*sx; d != 0 {
		b = (n*sxy - sx*sy) / d
	}
	return (sy - b*sx) / n, b
}

// pprofTop reads `go tool pprof -top -cum` output: each function's
// cumulative CPU time (the samples whose stack holds it) and the total.
type pprofTop struct {
	cum   map[string]float64
	total float64 // seconds of samples
	wall  float64 // seconds profiled
}

var pprofHeader = regexp.MustCompile(`Duration: ([0-9.]+\w+), Total samples = ([0-9.]+\w+)`)

func loadPprofTop(path string) *pprofTop {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	t := &pprofTop{cum: map[string]float64{}}
	for _, line := range strings.Split(string(data), "\n") {
		if m := pprofHeader.FindStringSubmatch(line); m != nil {
			t.wall, t.total = pprofDur(m[1]), pprofDur(m[2])
			continue
		}
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasSuffix(f[4], "%") {
			continue
		}
		name := strings.TrimSuffix(strings.Join(f[5:], " "), " (inline)")
		t.cum[name] = max(t.cum[name], pprofDur(f[3]))
	}
	if t.total == 0 {
		return nil
	}
	return t
}

// heapTop is `go tool pprof -sample_index=inuse_space -top` output: the
// functions that allocated the most of the live heap (flat), and the total.
type heapTop struct {
	total float64
	top   []struct {
		name  string
		bytes float64
	}
}

var heapHeader = regexp.MustCompile(`accounting for [^,]+, [0-9.]+% of ([0-9.]+[kMG]?B) total`)

func loadHeapTop(path string) *heapTop {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	h := &heapTop{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := heapHeader.FindStringSubmatch(line); m != nil {
			h.total = pprofBytes(m[1])
			continue
		}
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") || pprofBytes(f[0]) == 0 {
			continue
		}
		h.top = append(h.top, struct {
			name  string
			bytes float64
		}{strings.TrimSuffix(strings.Join(f[5:], " "), " (inline)"), pprofBytes(f[0])})
	}
	if h.total == 0 {
		return nil
	}
	return h
}

// pprofBytes parses pprof's sizes (512B, 1.50kB, 108.38MB, 1.2GB): powers
// of 1024 despite the names.
func pprofBytes(s string) float64 {
	mult := 1.0
	for _, u := range []struct {
		suffix string
		m      float64
	}{{"kB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return v * mult
}

// pprofDur parses pprof's durations (10ms, 1.79s, 1.2mins, 0).
func pprofDur(s string) float64 {
	s = strings.NewReplacer("mins", "m", "hrs", "h").Replace(s)
	if s == "0" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d.Seconds()
}

// The parts of an audit's CPU time: functions whose cumulative time the
// profile table shows (nested ones indented), as named in the profile.
var auditParts = []struct {
	indent int
	fn     string
	label  string
}{
	{0, "github.com/tlseal/tlseal/archive.(*checker).readAhead.func2", "parsing the log's records: envelopes, leaf hashes (on every core, ahead of the scan)"},
	{0, "github.com/tlseal/tlseal/archive.(*checker).scan", "checking the log in order: Merkle tree, index, chain links (one goroutine; dispatches the file checks)"},
	{0, "github.com/tlseal/tlseal/archive.(*checker).checkFile", "checking the files (the `--jobs` workers)"},
	{1, "github.com/tlseal/tlseal/timeline.Open", "opening a sealed file: reading, hashing the content, locating and parsing the seal"},
	{2, "github.com/tlseal/tlseal/timeline.(*Opened).openJSON", "of which JSON files (parsing the document and its seal)"},
	{1, "github.com/tlseal/tlseal/verify.JudgeOpened", "judging the seal: signature, signer chain, the entry's result"},
	{2, "github.com/tlseal/tlseal/internal/p256verify.VerifyASN1", "of which ECDSA P-256 signature verification"},
	{3, "github.com/tlseal/tlseal/internal/p256verify.(*table).verify", "of which with the signer's table"},
	{3, "crypto/ecdsa.VerifyASN1", "of which with crypto/ecdsa (before the table, or for another curve)"},
	{1, "github.com/tlseal/tlseal/verify.(*itemSpool).put", "writing each result to the spool file"},
	{0, "github.com/tlseal/tlseal/archive.(*checker).walkFiles", "listing files/ for unlisted files"},
	{0, "github.com/tlseal/tlseal/report.WriteJSON", "encoding the JSON report (after the audit)"},
	{0, "runtime.gcBgMarkWorker", "garbage collection (background marking)"},
	{0, "crypto/internal/fips140/sha256.block", "all SHA-256 (file contents, envelopes, Merkle tree), wherever it runs"},
}

func profileTable(w func(string, ...any), t *pprofTop) {
	w("| part | CPU time | share |\n|---|---|---|\n")
	for _, p := range auditParts {
		c, ok := t.cum[p.fn]
		if !ok {
			continue
		}
		w("| %s%s (`%s`) | %s | %.0f%% |\n", strings.Repeat("&nbsp;&nbsp;&nbsp;&nbsp;", p.indent), p.label,
			p.fn[strings.LastIndexByte(p.fn, '/')+1:], secs(c), 100*c/t.total)
	}
	w("| **total** (%.0f ms profiled, so %.2f cores busy on average) | %s | 100%% |\n\n", t.wall*1000, t.total/t.wall, secs(t.total))
}

// mibK formats a size in KiB (as /usr/bin/time reports max RSS).
func mibK(kib float64) string {
	if kib >= 1024*1024 {
		return fmt.Sprintf("%.1f GiB", kib/1024/1024)
	}
	return fmt.Sprintf("%.1f MiB", kib/1024)
}

// size formats a size in bytes.
func size(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", b/(1<<10))
	}
}

// renderAudit writes the section of issue 6: auditing an evidence archive.
func renderAudit(r *results) (string, string) {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	var targets []target
	add := func(t target) { targets = append(targets, t) }

	nproc := r.num("nproc")
	files, bytes, wavBytes := r.num("audit_files"), r.num("audit_bytes"), r.num("audit_wav_bytes")
	nJSON, nWAV, wavMiB := r.num("audit_json_files"), r.num("audit_wav_files"), r.num("audit_wav_mib")
	au, hd, sp := r.get("audit-archive"), r.get("hashdeep-archive"), r.get("sha256par-archive")
	fl, flt := r.get("floor-archive"), r.get("floor-table-archive")
	au1 := r.get("audit-archive-jobs1")
	aw, sw, sw1 := r.get("audit-wavs"), r.get("sha256par-wavs"), r.get("sha256par1-wavs")
	rssArchive := r.num("rss_audit_archive_kib")
	scale, _ := loadScale(r.dir)
	const limitKiB = 128 * 1024

	what := fmt.Sprintf("%.0f JSON files + %.0f WAVs of %.0f MiB", nJSON, nWAV, wavMiB)
	if au != nil && hd != nil {
		x := hd.min / au.min
		add(target{fmt.Sprintf("Audit an archive of %s: `tlseal audit` (all cores) vs `hashdeep -c sha256 -r -a -k` of its files", what),
			fmt.Sprintf("%s vs %s → %s faster", secs(au.min), secs(hd.min), ratio(x)), "≥ 1.5× faster", x >= 1.5, true})
	}
	if au != nil && fl != nil {
		x := au.min / fl.min
		m := fmt.Sprintf("%s vs %s → %s the floor", secs(au.min), secs(fl.min), ratio(x))
		if flt != nil {
			m += fmt.Sprintf(" (the stricter floor verifying with tlseal's table, `-verifier table`: %s → %s)", secs(flt.min), ratio(au.min/flt.min))
		}
		add(target{"The same audit vs its floor: SHA-256 of every byte plus one ECDSA P-256 verification per file (crypto/ecdsa), on all cores (`benchtool floor`)",
			m, "≤ 1.25×", x <= 1.25, true})
	}
	if aw != nil && sw != nil {
		x := sw.min / aw.min
		add(target{fmt.Sprintf("Large files (the %.0f WAVs, `--files-from`): audit bytes/s vs %.0f cores × Go SHA-256 (`benchtool sha256par`)", nWAV, nproc),
			fmt.Sprintf("%.0f vs %.0f MiB/s → %.3f", wavBytes/(1<<20)/aw.min, wavBytes/(1<<20)/sw.min, x), "≥ 0.70", x >= 0.70, true})
	}
	if rssArchive > 0 {
		add(target{"Peak memory (max RSS) of the audit of that archive",
			mibK(rssArchive), "< 128 MiB", rssArchive < limitKiB, true})
	}
	var fitA, fitB float64
	if len(scale) > 0 {
		var xs, ys []float64
		for _, p := range scale {
			xs, ys = append(xs, p.entries), append(ys, p.rssCLI)
		}
		fitA, fitB = fitLine(xs, ys)
		last := scale[len(scale)-1]
		est := fitA + fitB*1e6
		var measured string
		var ok bool
		if last.entries >= 1e6 {
			measured = fmt.Sprintf("**%s** at %.0f entries (measured)", mibK(last.rssCLI), last.entries)
			ok = last.rssCLI < limitKiB
		} else {
			measured = fmt.Sprintf("%s at %.0f entries (measured); **≈ %s** at 1,000,000 (**extrapolated**: %.2f KiB per entry)",
				mibK(last.rssCLI), last.entries, mibK(max(est, last.rssCLI)), fitB)
			ok = est < limitKiB && last.rssCLI < limitKiB
			if last.rssCLI >= limitKiB {
				measured += fmt.Sprintf("; already over the limit at %.0f entries", last.entries)
			}
		}
		// Too few or too small sizes can show no growth at all (noise):
		// then nothing can be said about a million entries.
		known := last.entries >= 1e6 || last.rssCLI >= limitKiB || (fitB > 0 && len(scale) >= 2)
		if !known {
			measured = fmt.Sprintf("%s at %.0f entries (measured); no growth measurable over these sizes", mibK(last.rssCLI), last.entries)
		}
		add(target{"Peak memory (max RSS) of the audit of an archive of 1,000,000 small entries",
			measured, "< 128 MiB", ok, known})
	}

	w("## Latest run: auditing an evidence archive\n\n")
	w("Measured by `bench/run.sh` (section audit, mode: **%s**) on %s.\n\n", r.fact("audit_mode"), r.fact("date"))
	if r.fact("audit_mode") != "full" {
		w("> Not a full run (small fixtures or other settings): its figures are not the ones of the\n")
		w("> targets, which are stated for 3,000 JSON files and 6 WAVs of 32 MiB (issue 11).\n\n")
	}
	machineTable(&b, r, "audit_timer")

	w("### Targets (issues 6 and 11)\n\n")
	w("As above, ratios are of the best times of commands measured side by side in this run.\n\n%s\n\n", r.busyNote())
	verdicts := targetsTable(w, targets)
	row := commandRow(w)
	gb, _ := os.ReadFile(filepath.Join(r.dir, "gobench-audit.txt"))
	bm := parseGoBench(gb)

	if au != nil {
		w("### 4. Auditing an archive of %s\n\n", what)
		w("`archive/` was built with `tlseal ingest` from a directory of originals: %.0f event JSON\n", nJSON)
		w("files (sealed: %.0f bytes on average) and %.0f WAVs of noise of %.0f MiB; %.0f files, %s in `archive/files`.\n",
			r.num("audit_json_bytes_avg"), nWAV, wavMiB, files, size(bytes))
		if s := r.num("audit_ingest_s"); s > 0 {
			w("The ingest took %s (%.0f files/s, every append fsynced).\n", secs(s), files/s)
		}
		w("`tlseal audit` checks the checkpoint's signature and signer, reads the whole log and\n")
		w("recomputes the Merkle tree, follows the chain links, and checks every entry's file: present,\n")
		w("its seal equal to the logged one, content digest, ECDSA signature, signer chain; then it\n")
		w("writes the JSON report (%s here) to standard output, discarded. hashdeep's audit\n", size(r.num("audit_report_bytes")))
		w("(`-a -k`, against a list made beforehand) only hashes each file and looks the digest up.\n")
		w("`bin/benchtool sha256par` is Go's SHA-256 of the same files on %.0f goroutines (the `N cores ×\n", nproc)
		w("Go SHA-256` of the issue), `-jobs 1` on one.\n\n")
		w("| command | best | median | MiB/s | files/s | tlseal audit is … faster |\n|---|---|---|---|---|---|\n")
		for _, m := range []*meas{au, au1, hd, sp, fl, flt} {
			if m != nil {
				row(m, fmt.Sprintf("%.0f", bytes/(1<<20)/m.min), fmt.Sprintf("%.0f", files/m.min), ratio(m.min/au.min))
			}
		}
		w("\n")
		if fl != nil {
			w("The floor (`bin/benchtool floor`, measured above) is what any auditor that checks every\n")
			w("seal's signature must do at the least: open and read every file, SHA-256 of every byte, and\n")
			w("one ECDSA P-256 verification per file, on all %.0f cores, in one process; nothing parsed, no\n", nproc)
			w("log, no Merkle tree, no chain, no report. tlseal audit takes %s, **%.2f×** that floor (%s).\n", secs(au.min), au.min/fl.min, secs(fl.min))
			if ns, mbs := bm["ECDSAP256Verify:ns/op"], bm["SHA256"]; ns > 0 && sp != nil {
				w("Its parts, from the Go benchmarks: the hashing alone (`sha256par`) %s; %.0f verifications\n", secs(sp.min), files)
				w("at %.0f µs each (BenchmarkECDSAP256Verify) on %.0f cores, %s. (Go's SHA-256: %.0f MB/s on one core.)\n",
					ns/1000, nproc, secs(files*ns*1e-9/nproc), mbs)
				if tns := bm["P256Verify/table:ns/op"]; tns > 0 {
					w("The floor verifies with crypto/ecdsa, as any verifier can; tlseal audit verifies the seals of\n")
					w("a signer it has seen 64 times with internal/p256verify, which multiplies by the signer's key\n")
					w("with a table of its multiples built once: %.0f µs a verification (BenchmarkP256Verify/table),\n", tns/1000)
					w("%.2f× cheaper than crypto/ecdsa: part of the audit's standing against this floor comes from a\n", ns/tns)
					w("faster verifier, not from doing less. The floor is left on crypto/ecdsa, the issue's definition.\n")
					if flt != nil {
						w("Held to the stricter floor that verifies with the same table (`benchtool floor -verifier table`,\n")
						w("%s), tlseal audit takes **%.2f×** it.\n", secs(flt.min), au.min/flt.min)
					}
				}
			}
			w("\n")
		}
		if au1 != nil {
			w("Parallelism: with one worker per CPU the audit used %.2f cores on average (%.2f s user + %.2f s\n",
				(au.user+au.sys)/au.mean, au.user, au.sys)
			w("system per run); `--jobs 1`: %.2f cores, %s; speed-up %s on %.0f CPUs.\n\n", (au1.user+au1.sys)/au1.mean, secs(au1.min), ratio(au1.min/au.min), nproc)
		}
		if t := loadPprofTop(filepath.Join(r.dir, "audit-archive.top")); t != nil {
			w("Where the CPU time goes: a CPU profile of the same audit in process (`bin/benchtool audit\n")
			w("-cpuprofile`, verify.Archive and the JSON report as `tlseal audit` runs them; cumulative time\n")
			w("of each function, nested ones indented; one profiled run, 10 ms samples):\n\n")
			profileTable(w, t)
		}
	}
	if aw != nil {
		w("### 5. Large files: the %.0f WAVs alone\n\n", nWAV)
		w("`--files-from wavs.txt` limits the file checks to the %.0f WAVs (%s); the log is still read and\n", nWAV, size(wavBytes))
		w("checked whole (%.0f entries), as every audit does. The target compares the audit's bytes/s\n", files)
		w("with Go's SHA-256 of the same files on all %.0f cores.\n\n", nproc)
		w("| command | best | median | MiB/s | audit's speed as a fraction of this |\n|---|---|---|---|---|\n")
		for _, m := range []*meas{aw, sw, sw1} {
			if m != nil {
				row(m, fmt.Sprintf("%.0f", wavBytes/(1<<20)/m.min), fmt.Sprintf("%.2f", m.min/aw.min))
			}
		}
		if sw1 != nil && sw != nil {
			w("\n%.0f goroutines hash %.2f× as fast as one here (`N cores × Go SHA-256` taken literally, %.0f ×\n", nproc, sw1.min/sw.min, nproc)
			w("the one-goroutine speed, would be %.0f MiB/s; the target is judged against the measured `sha256par`).\n",
				nproc*wavBytes/(1<<20)/sw1.min)
		}
		if sw != nil && sw.min/aw.min < 0.70 {
			w("\nBelow the target here: the log is checked whole whatever `--files-from` says (each of the\n")
			w("%.0f envelopes parsed, the Merkle tree, the chain links, the listing of `files/`), a fixed cost\n", files)
			w("that weighs more where SHA-256 is fast (%.0f MB/s on one core here).\n", bm["SHA256"])
		}
		w("\n")
		if t := loadPprofTop(filepath.Join(r.dir, "audit-wavs.top")); t != nil {
			w("CPU profile of the same (`bin/benchtool audit -files-from wavs.txt -cpuprofile`):\n\n")
			profileTable(w, t)
		}
	}

	w("### 6. Memory\n\n")
	if rssArchive > 0 {
		w("Peak memory (`/usr/bin/time -f %%M`, max RSS, the largest of 3 runs): `tlseal audit` of the archive\n")
		w("above **%s**; with `--files-from wavs.txt` %s; hashdeep's audit of the same files %s.\n\n",
			mibK(rssArchive), mibK(r.num("rss_audit_wavs_kib")), mibK(r.num("rss_hashdeep_archive_kib")))
	}
	if len(scale) > 0 {
		last := scale[len(scale)-1]
		w("How memory grows with the number of entries: one archive of small JSON entries (about %.0f\n", r.num("audit_json_bytes_avg"))
		w("bytes sealed, like the ones above), grown with `tlseal ingest` to each size in turn (every\n")
		if last.entries < 1e6 {
			w("append fsynced, as in production: building 1,000,000 entries that way does not fit in a\n")
			w("default run, so the last row is an **extrapolation**, not a measurement). At each size: the\n")
		} else {
			w("append fsynced, as in production). At each size: the\n")
		}
		w("peak RSS of one `tlseal audit --format json=-` (report discarded) and of its stages run in\n")
		w("process by `bin/benchtool audit -stage`: `check` is archive.Check alone (the log, the files,\n")
		w("the signatures; nothing kept per entry but the checker's own bookkeeping), `archive` is\n")
		w("verify.Archive as `tlseal audit` calls it (also the signer chains, and one result per entry,\n")
		w("kept in a temporary spool file), `report` adds the JSON report. All with the soft heap limit\n")
		w("that `tlseal audit` sets (96 MiB unless `GOMEMLIMIT` is set; `benchtool audit -memlimit`).\n\n")
		w("| entries | ingest files/s | audit time | max RSS: `tlseal audit` | `-stage check` | `-stage archive` | `-stage report` |\n")
		w("|---|---|---|---|---|---|---|\n")
		for _, p := range scale {
			w("| %.0f | %.0f | %s | **%s** | %s | %s | %s |\n", p.entries, p.added/max(p.ingestS, 1e-9), secs(p.auditS),
				mibK(p.rssCLI), mibK(p.rssCheck), mibK(p.rssArchive), mibK(p.rssRe))
		}
		line := func(get func(scalePoint) float64) (float64, float64) {
			var xs, ys []float64
			for _, p := range scale {
				xs, ys = append(xs, p.entries), append(ys, get(p))
			}
			return fitLine(xs, ys)
		}
		ca, cb := line(func(p scalePoint) float64 { return p.rssCheck })
		aa, ab := line(func(p scalePoint) float64 { return p.rssArchive })
		ra, rb := line(func(p scalePoint) float64 { return p.rssRe })
		ta, tb := line(func(p scalePoint) float64 { return p.auditS })
		if last.entries < 1e6 {
			// Memory does not shrink as entries are added: no estimate
			// below what the largest archive measured.
			w("| 1,000,000 (extrapolated: least-squares line through the rows above) | | ≈ %s | **≈ %s** | ≈ %s | ≈ %s | ≈ %s |\n",
				secs(ta+tb*1e6), mibK(max(fitA+fitB*1e6, last.rssCLI)), mibK(max(ca+cb*1e6, last.rssCheck)),
				mibK(max(aa+ab*1e6, last.rssArchive)), mibK(max(ra+rb*1e6, last.rssRe)))
		}
		w("\nGrowth per entry (slopes of least-squares lines through the rows): `tlseal audit` %.2f KiB;\n", fitB)
		w("archive.Check %.2f KiB; verify.Archive %.2f KiB; with the report %.2f KiB. ", cb, ab, rb)
		est := max(fitA+fitB*1e6, last.rssCLI)
		switch {
		case last.entries < 1e6 && last.rssCLI < limitKiB && !(fitB > 0 && len(scale) >= 2):
			w("These sizes show no measurable growth, so they say nothing about 1,000,000 entries.\n\n")
		case last.entries >= 1e6:
			w("The 128 MiB target at 1,000,000 entries\nis **%s** (%s measured at %.0f entries).\n\n",
				map[bool]string{true: "met", false: "not met"}[last.rssCLI < limitKiB], mibK(last.rssCLI), last.entries)
		case last.rssCLI >= limitKiB:
			w("The 128 MiB target at 1,000,000 entries is **not met**: the\n")
			w("audit already needs %s at %.0f entries, and memory only grows with entries.\n\n", mibK(last.rssCLI), last.entries)
		case est >= limitKiB:
			w("On this evidence the 128 MiB target at 1,000,000 entries is **not\n")
			w("met** (≈ %s extrapolated).\n\n", mibK(est))
		default:
			w("On this evidence the 128 MiB target at 1,000,000 entries is **met**\n")
			w("(≈ %s extrapolated; not measured).\n\n", mibK(est))
		}
	}
	if h := loadHeapTop(filepath.Join(r.dir, "audit-scale-heap.top")); h != nil && len(scale) > 0 {
		n := scale[len(scale)-1].entries
		w("Where the memory goes at %.0f entries: the Go heap's largest live size during the audit\n", n)
		w("(`bin/benchtool audit -peakheap`: a heap profile each time the live heap grows by 2%%) was\n")
		w("**%s**, %.0f bytes an entry, allocated by (in-use space, flat):\n\n", size(h.total), h.total/n)
		w("| allocated in | live | per entry |\n|---|---|---|\n")
		for _, f := range h.top {
			if f.bytes < h.total/100 {
				continue
			}
			w("| `%s` | %s | %.0f B |\n", f.name, size(f.bytes), f.bytes/n)
		}
		w("\n")
	}
	if t := loadPprofTop(filepath.Join(r.dir, "audit-scale.top")); t != nil && len(scale) > 0 {
		w("CPU profile of the audit of the largest of these archives (%.0f entries; `bin/benchtool audit\n", scale[len(scale)-1].entries)
		w("-cpuprofile`):\n\n")
		profileTable(w, t)
	}
	w("`--format json=/dev/null` is not used: the report is written atomically (a temporary file\n")
	w("renamed over the target), which would replace `/dev/null` itself when run as root.\n\n")

	w("### Reproduce\n\n")
	w("    TLSEAL_BENCH_SECTIONS=audit bench/run.sh  # this section only; rewrites it\n")
	w("    TLSEAL_BENCH_SECTIONS=audit TLSEAL_BENCH_AUDIT_SCALE='10000 30000 100000 1000000' bench/run.sh\n")
	w("                                              # the same, measuring 1,000,000 entries (+30 min, 6 GB)\n")
	w("    TLSEAL_BENCH_QUICK=1 bench/run.sh         # smoke test of both sections; writes its report elsewhere\n\n")
	w("The commands run in the script's scratch directory (`bin/`: the freshly built `tlseal` and\n")
	w("`benchtool`; `pki/`: the development CA and signer; `audit-known.txt`: hashdeep's list of\n")
	w("`archive/files`; `wavs.txt`: the WAVs' archive names, `wavpaths.txt` their paths). This run's\n")
	w("settings: %s.\n", r.fact("audit_settings"))
	return b.String(), verdicts
}
