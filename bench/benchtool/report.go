package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The generated parts of docs/performance.md lie between these markers, one
// pair per section of bench/run.sh; the rest of the file is left as it is.
const (
	beginMarker      = "<!-- BEGIN bench/run.sh: generated, do not edit by hand -->"
	endMarker        = "<!-- END bench/run.sh -->"
	auditBeginMarker = "<!-- BEGIN bench/run.sh audit: generated, do not edit by hand -->"
	auditEndMarker   = "<!-- END bench/run.sh audit -->"
)

// meas is one measured command (from a hyperfine export).
type meas struct {
	key, cmd                 string
	median, min, mean, stdev float64
	user, sys                float64
	runs                     int
}

type results struct {
	dir   string
	facts map[string]string
	cmds  map[string]string
	m     map[string]*meas
}

func (r *results) fact(k string) string {
	if v, ok := r.facts[k]; ok && v != "" {
		return v
	}
	return "?"
}

func (r *results) num(k string) float64 {
	v, err := strconv.ParseFloat(r.facts[k], 64)
	if err != nil {
		return 0
	}
	return v
}

func (r *results) get(key string) *meas { return r.m[key] }

// busyNote says whether other work was running while measuring.
func (r *results) busyNote() string {
	note := fmt.Sprintf("Load average (1, 5, 15 min) before the run: %s; after: %s.", r.fact("load_before"), r.fact("load_after"))
	if b := r.facts["busy"]; b != "" {
		note += "\n**The machine was busy** (other processes used more than 10% of the CPU for as long as\n" +
			"the script waited) before measuring: " + b + ". Those figures are less reliable."
	}
	return note
}

func loadResults(dir string) (*results, error) {
	r := &results{dir: dir, facts: map[string]string{}, cmds: map[string]string{}, m: map[string]*meas{}}
	if err := readKV(filepath.Join(dir, "facts.env"), "=", r.facts); err != nil {
		return nil, err
	}
	if err := readKV(filepath.Join(dir, "commands.tsv"), "\t", r.cmds); err != nil {
		return nil, err
	}
	for key, cmd := range r.cmds {
		data, err := os.ReadFile(filepath.Join(dir, key+".json"))
		if err != nil {
			return nil, fmt.Errorf("measurement %s: %w", key, err)
		}
		var ex hfExport
		if err := json.Unmarshal(data, &ex); err != nil || len(ex.Results) != 1 {
			return nil, fmt.Errorf("measurement %s: not a one-command hyperfine export (%v)", key, err)
		}
		x := ex.Results[0]
		r.m[key] = &meas{key: key, cmd: cmd, median: x.Median, min: x.Min, mean: x.Mean, stdev: x.Stddev,
			user: x.User, sys: x.System, runs: len(x.Times)}
	}
	return r, nil
}

func readKV(path, sep string, into map[string]string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok {
			into[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return sc.Err()
}

// cmdReport writes the generated section of the performance document.
func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	dir := fs.String("results", "", "results directory written by bench/run.sh")
	doc := fs.String("doc", "", "document to update (created when missing)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *doc == "" {
		return errors.New("usage: benchtool report -results DIR -doc FILE")
	}
	r, err := loadResults(*dir)
	if err != nil {
		return err
	}
	// Each section is rewritten only when this run measured it.
	ran := false
	if r.facts["mode"] != "" {
		section, verdicts := render(r)
		if err := spliceDoc(*doc, beginMarker, endMarker, section); err != nil {
			return err
		}
		fmt.Print(verdicts)
		ran = true
	}
	if r.facts["audit_mode"] != "" {
		section, verdicts := renderAudit(r)
		if err := spliceDoc(*doc, auditBeginMarker, auditEndMarker, section); err != nil {
			return err
		}
		fmt.Print(verdicts)
		ran = true
	}
	if !ran {
		return errors.New("the results hold no section (no mode or audit_mode in facts.env)")
	}
	return nil
}

// spliceDoc replaces the generated section of doc between the markers (or
// creates the document, or appends the section when the document does not
// have these markers).
func spliceDoc(doc, beginMarker, endMarker, section string) error {
	gen := beginMarker + "\n" + section + endMarker + "\n"
	old, err := os.ReadFile(doc)
	switch {
	case errors.Is(err, os.ErrNotExist):
		head := "# Performance\n\n" +
			"How fast tlseal seals and verifies, measured against the obvious alternatives\n" +
			"(`sha256sum`, `hashdeep`, `cp`, the openssl + jq recipe of the seal format) on\n" +
			"the same files in one run. The section below is written by `bench/run.sh`;\n" +
			"edit the script, not the figures.\n\n"
		return os.WriteFile(doc, []byte(head+gen), 0o644)
	case err != nil:
		return err
	}
	s := string(old)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		if !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return os.WriteFile(doc, []byte(s+"\n"+gen), 0o644)
	}
	rest := s[j+len(endMarker):]
	rest = strings.TrimPrefix(rest, "\n")
	return os.WriteFile(doc, []byte(s[:i]+gen+rest), 0o644)
}

func secs(t float64) string {
	switch {
	case t >= 10:
		return fmt.Sprintf("%.1f s", t)
	case t >= 1:
		return fmt.Sprintf("%.2f s", t)
	case t >= 0.01:
		return fmt.Sprintf("%.0f ms", t*1000)
	default:
		return fmt.Sprintf("%.1f ms", t*1000)
	}
}

func mib(b float64) string { return fmt.Sprintf("%.0f MiB", b/(1<<20)) }

func ratio(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f×", x)
	case x >= 10:
		return fmt.Sprintf("%.1f×", x)
	default:
		return fmt.Sprintf("%.2f×", x)
	}
}

func passFail(ok bool) string {
	if ok {
		return "**pass**"
	}
	return "**FAIL**"
}

// target is one line of the acceptance table.
type target struct {
	what, measured, need string
	ok, known            bool
}

// targetsTable writes the acceptance table and returns its verdict lines,
// which the run prints at the end.
func targetsTable(w func(string, ...any), targets []target) string {
	w("| target | measured | required | result |\n|---|---|---|---|\n")
	var verdicts strings.Builder
	for _, t := range targets {
		cell, word := passFail(t.ok), map[bool]string{true: "PASS", false: "FAIL"}[t.ok]
		if !t.known {
			cell, word = "not determined", "N/A"
		}
		w("| %s | %s | %s | %s |\n", t.what, t.measured, t.need, cell)
		fmt.Fprintf(&verdicts, "%-4s  %s: %s (required %s)\n", word, stripMD(t.what), stripMD(t.measured), t.need)
	}
	w("\n")
	return verdicts.String()
}

// commandRow returns a writer of a measured command's table row: the
// command, its best and median times, then the extra cells.
func commandRow(w func(string, ...any)) func(m *meas, extra ...string) {
	return func(m *meas, extra ...string) {
		if m == nil {
			return
		}
		w("| `%s` | %s | %s |", m.cmd, secs(m.min), secs(m.median))
		for _, e := range extra {
			w(" %s |", e)
		}
		w("\n")
	}
}

func render(r *results) (string, string) {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	var targets []target
	add := func(t target) { targets = append(targets, t) }

	nproc := r.num("nproc")
	wavBytes := r.num("sealed_wav_bytes")
	nFiles := r.num("json_files")

	// 1. Verifying one large WAV.
	vw, gs, ss, hw := r.get("verify-wav"), r.get("go-sha256-wav"), r.get("sha256sum-wav"), r.get("hashdeep-wav")
	if vw != nil && gs != nil {
		x := gs.min / vw.min
		add(target{"Verify one large WAV: speed vs Go's SHA-256 of the same bytes",
			fmt.Sprintf("%s vs %s", secs(vw.min), secs(gs.min)), "≥ 0.80", x >= 0.80, true})
		targets[len(targets)-1].measured += " → " + fmt.Sprintf("%.2f", x)
	}
	if vw != nil && hw != nil {
		x := hw.min / vw.min
		add(target{"Verify one large WAV: speed vs `hashdeep -c sha256`",
			fmt.Sprintf("%s vs %s → %s", secs(vw.min), secs(hw.min), ratio(x)), "≥ 3×", x >= 3, true})
	}
	rssBig, rssSmall := r.num("rss_verify_wav_kib"), r.num("rss_verify_wav_small_kib")
	if rssBig > 0 {
		worst := max(rssBig, rssSmall)
		add(target{"Verify one large WAV: peak memory (max RSS), any size",
			fmt.Sprintf("%.1f MiB (%s file); %.1f MiB (%s file)", rssBig/1024, mib(r.num("sealed_wav_bytes")), rssSmall/1024, mib(r.num("sealed_wav_small_bytes"))),
			"< 64 MiB", worst < 64*1024, true})
	}
	// 2. Sealing (issue 11: within 1.2× of max(hashing the file, copying it durably)).
	sg, cp, cps, gso := r.get("sign-wav"), r.get("cp-wav"), r.get("cp-sync-wav"), r.get("go-sha256-orig")
	if sg != nil && cps != nil && gso != nil {
		floor, which := cps.min, "`cp` + `sync`"
		if gso.min > floor {
			floor, which = gso.min, "Go's SHA-256"
		}
		x := sg.min / floor
		add(target{"Seal one large WAV (`tlseal sign`, fsynced) vs max(Go's SHA-256 of the file, `cp` + `sync` of it)",
			fmt.Sprintf("%s vs %s (%s) → %s", secs(sg.min), secs(floor), which, ratio(x)), "≤ 1.2×", x <= 1.2, true})
	}
	// 3. A directory of small sealed JSON files.
	vd, vd1, hd, rc := r.get("verify-dir"), r.get("verify-dir-jobs1"), r.get("hashdeep-dir"), r.get("recipe-sample")
	recipeN := r.num("recipe_files")
	var recipeAll float64
	if rc != nil && recipeN > 0 {
		recipeAll = rc.min / recipeN * nFiles
	}
	if vd != nil && hd != nil {
		x := hd.min / vd.min
		add(target{fmt.Sprintf("`tlseal verify DIR` of %.0f sealed JSON: files/s vs `hashdeep -c sha256 -r -a`", nFiles),
			fmt.Sprintf("%.0f vs %.0f files/s → %.2f", nFiles/vd.min, nFiles/hd.min, x), "≥ 0.6", x >= 0.6, true})
	}
	if vd != nil && recipeAll > 0 {
		x := recipeAll / vd.min
		add(target{"`tlseal verify DIR` vs the openssl + jq recipe, once per file (extrapolated from a sample)",
			fmt.Sprintf("%s vs %s → %s", secs(vd.min), secs(recipeAll), ratio(x)), "≥ 100×", x >= 100, true})
	}
	if vd != nil && vd1 != nil && nproc > 0 {
		x := vd1.min / vd.min
		busy := (vd.user + vd.sys) / vd.mean
		add(target{fmt.Sprintf("Verification parallelises over all cores (%.0f here): speed-up of the default over `--jobs 1`", nproc),
			fmt.Sprintf("%s (%.2f cores busy on average)", ratio(x), busy),
			fmt.Sprintf("≥ %.2f× (0.75 × cores)", 0.75*nproc), x >= 0.75*nproc, true})
	}

	// --- write the section ---
	w("## Latest run\n\n")
	w("Measured by `bench/run.sh` (mode: **%s**) on %s.\n\n", r.fact("mode"), r.fact("date"))
	if r.fact("mode") != "full" {
		w("> This is a quick run on small fixtures, a smoke test of the script: its ratios are not the\n")
		w("> figures of the targets, which are stated for a 512 MiB WAV and 5,000 JSON files.\n\n")
	}
	machineTable(&b, r, "timer")

	w("### Targets (issues 2 and 11)\n\n")
	w("Ratios are of the best times of commands measured side by side in this run: on a shared\n")
	w("machine other work only ever adds time, so the minimum is the steadiest estimate of each\n")
	w("command's own cost; absolute times drift, ratios much less.\n\n%s\n\n", r.busyNote())
	verdicts := targetsTable(w, targets)
	row := commandRow(w)
	speed := func(m *meas, bytes float64) string { return fmt.Sprintf("%.0f MiB/s", bytes/(1<<20)/m.min) }

	if vw != nil {
		w("### 1. Verifying one %s WAV\n\n", mib(wavBytes))
		w("`sealed.wav` is a %s PCM WAV of noise, sealed. Every command reads the whole file; tlseal\n", mib(wavBytes))
		w("also locates the seal, walks the chunks, checks the ECDSA signature and the certificate chain.\n\n")
		w("| command | best | median | throughput | tlseal verify is … faster |\n|---|---|---|---|---|\n")
		for _, m := range []*meas{vw, gs, ss, hw} {
			if m != nil {
				row(m, speed(m, wavBytes), ratio(m.min/vw.min))
			}
		}
		w("\n`bin/benchtool sha256` is Go's crypto/sha256 reading the file in 1 MiB pieces, the same read\n")
		w("size as tlseal: the limit of verification, since hashing is all the per-byte work there is.\n\n")
		w("Peak memory (`/usr/bin/time -f %%M`, max RSS) of `tlseal verify`: **%.1f MiB** on the %s file,\n",
			rssBig/1024, mib(r.num("sealed_wav_bytes")))
		w("%.1f MiB on a %s one; `tlseal sign` of the large file: %.1f MiB. Memory does not grow with the\n",
			rssSmall/1024, mib(r.num("sealed_wav_small_bytes")), r.num("rss_sign_wav_kib")/1024)
		w("file: both stream it through a 1 MiB buffer.\n\n")
	}
	if sg != nil {
		orig := r.num("wav_bytes")
		w("### 2. Sealing one %s WAV\n\n", mib(orig))
		w("`tlseal sign` reads the original once: on Linux the kernel copies it into a temporary file\n")
		w("(copy_file_range, in 8 MiB windows) while another goroutine hashes the original from its page\n")
		w("cache through read-only mappings, so no byte is copied into a buffer and back out (elsewhere,\n")
		w("or between files the kernel cannot copy between: read into buffers, hashed and written by two\n")
		w("goroutines). The digest is always the original's: a copy gone wrong fails verification. Then it fsyncs the\n")
		w("file, links it into place and fsyncs the directory: a crash leaves no half-written seal. Plain\n")
		w("`cp` does not fsync, so its copy may still be only in the page cache when it returns; `cp` +\n")
		w("`sync` of the copy and the directory is the like-for-like comparison; the target (issue 11) is\n")
		w("the larger of that and Go's SHA-256 of the file. `bin/benchtool seal` is the same sealing code\n")
		w("(timeline.Seal) writing the output directly, without the temporary file and fsyncs: the\n")
		w("difference between it and `tlseal sign` is the cost of durability. Each run starts by deleting\n")
		w("the previous output (`--prepare`, not timed).\n\n")
		w("| command | best | median | throughput | tlseal sign takes … of this |\n|---|---|---|---|---|\n")
		for _, m := range []*meas{sg, r.get("seal-nosync-wav"), cp, cps, r.get("go-sha256-orig")} {
			if m != nil {
				row(m, speed(m, orig), ratio(sg.min/m.min))
			}
		}
		if h := r.get("go-sha256-orig"); h != nil && cp != nil && cps != nil {
			w("\nA floor for any sealer: the seal holds the SHA-256 of every byte, and Go's SHA-256 of the\n")
			w("original alone takes %s, **%s** plain `cp` and %s `cp` + `sync` on this machine. A\n", secs(h.min), ratio(h.min/cp.min), ratio(h.min/cps.min))
			w("sealer that hashed and copied at once, on different cores, could approach max(hashing,\n")
			w("copying + fsync), the target's floor.\n")
		}
		w("\n")
	}
	if vd != nil {
		w("### 3. Verifying a directory of %.0f sealed JSON files\n\n", nFiles)
		w("`events/` holds %.0f sealed event files of %.0f bytes on average, all sealed by one signer.\n",
			nFiles, r.num("json_bytes_avg"))
		w("tlseal checks each file's content digest, its ECDSA signature and its certificate chain\n")
		w("(built once per signer certificate and cached, validity checked per seal). `hashdeep -a`\n")
		w("and `sha256sum -c` only hash and compare with a list made beforehand.\n\n")
		w("| command | best | median | files/s | tlseal verify is … faster |\n|---|---|---|---|---|\n")
		for _, m := range []*meas{vd, vd1, hd, r.get("sha256sum-dir")} {
			if m != nil {
				row(m, fmt.Sprintf("%.0f", nFiles/m.min), ratio(m.min/vd.min))
			}
		}
		if rc != nil && recipeN > 0 {
			per := rc.min / recipeN
			w("| `%s` | %s | %s | %.1f | %s |\n", rc.cmd, secs(rc.min), secs(rc.median), 1/per, ratio(recipeAll/vd.min))
			w("\nThe openssl + jq recipe (`bench/recipe.sh`: the independent verification steps of the seal\n")
			w("format — jq for the signing input, signature and certificate, `openssl dgst -verify`,\n")
			w("`openssl verify` of the chain, `tlseal extract` + `sha256sum` for the content digest —\n")
			w("once per file) was run on a sample of the first %.0f files only: %s per file, so **%s** for\n", recipeN, secs(per), secs(recipeAll))
			w("all %.0f, extrapolated linearly (each file costs the same dozen process starts).\n", nFiles)
		}
		if gb, err := os.ReadFile(filepath.Join(r.dir, "gobench.txt")); err == nil && hd != nil {
			if ns := parseGoBench(gb)["ECDSAP256Verify:ns/op"]; ns > 0 && nproc > 0 {
				ceil := nproc / (ns * 1e-9)
				w("\nA ceiling for a verifier built on crypto/ecdsa: every seal has its own ECDSA P-256 signature,\n")
				w("and crypto/ecdsa verifies one in %.0f µs here (BenchmarkECDSAP256Verify below), so %.0f cores\n", ns/1000, nproc)
				w("check at most **%.0f signatures/s**, %.2f of hashdeep's files/s, before reading, hashing or\n", ceil, ceil/(nFiles/hd.min))
				w("parsing anything.")
				if tns := parseGoBench(gb)["P256Verify/table:ns/op"]; tns > 0 {
					tceil := nproc / (tns * 1e-9)
					w(" tlseal does not verify with crypto/ecdsa alone: from the 64th seal of one signer on,\n")
					w("internal/p256verify multiplies by that signer's key with a table of its multiples built once\n")
					w("(BenchmarkP256Verify/build-table), and one verification costs %.0f µs (BenchmarkP256Verify/table,\n", tns/1000)
					w("%.2f× cheaper), a ceiling of %.0f signatures/s, %.2f of hashdeep's files/s. Every answer is\n", ns/tns, tceil, tceil/(nFiles/hd.min))
					w("compared with crypto/ecdsa's in its tests and under fuzzing.")
				}
				w("\n")
			}
		}
		if vd1 != nil {
			w("\nParallelism: by default `tlseal verify` runs one worker per CPU (GOMAXPROCS = %.0f here);\n", nproc)
			w("its CPU time was %.2f s user + %.2f s system per run of %s wall, i.e. %.2f cores busy. With\n",
				vd.user, vd.sys, secs(vd.mean), (vd.user+vd.sys)/vd.mean)
			w("`--jobs 1`: %.2f cores busy, %s.\n", (vd1.user+vd1.sys)/vd1.mean, secs(vd1.min))
		}
		w("\n")
	}
	if gb, err := os.ReadFile(filepath.Join(r.dir, "gobench.txt")); err == nil {
		w("### Go benchmarks (in process, no file system unless named File)\n\n")
		w("`go test -run '^$' -bench . -benchmem ./timeline ./verify`, in the same run:\n\n")
		bm := parseGoBench(gb)
		note := func(label, a, base string) {
			x, y := bm[a], bm[base]
			if x > 0 && y > 0 {
				w("- %s: %.0f vs %.0f MB/s → **%.2f**\n", label, x, y, x/y)
			}
		}
		note("OpenRIFF (64 MiB in memory) vs SHA256 of the same bytes", "OpenRIFF", "SHA256")
		note("SealRIFF (64 MiB in memory) vs SHA256", "SealRIFF", "SHA256")
		note("VerifyFile/riff-64MiB (on disk, with signature and chain) vs SHA256", "VerifyFile/riff-64MiB", "SHA256")
		if a, c := bm["Files/jobs=GOMAXPROCS:files/s"], bm["Files/jobs=1:files/s"]; a > 0 && c > 0 {
			w("- Files (1,000 sealed 2 KiB JSON): %.0f files/s with one worker per CPU, %.0f with one → **%.2f×**\n", a, c, a/c)
		}
		w("\n```\n")
		for _, line := range strings.Split(string(gb), "\n") {
			if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "cpu:") || strings.HasPrefix(line, "pkg:") {
				w("%s\n", line)
			}
		}
		w("```\n\n")
	}
	w("### Reproduce\n\n")
	w("    bench/run.sh                      # full run of both sections; rewrites this one and the audit's\n")
	w("    TLSEAL_BENCH_SECTIONS=verify bench/run.sh  # this section only: 512 MiB WAV, 5,000 JSON files\n")
	w("    TLSEAL_BENCH_QUICK=1 bench/run.sh # smoke test on small fixtures; writes its report elsewhere\n\n")
	w("It needs Go, hashdeep, openssl, jq and GNU time (installed with apt-get when missing and run as\n")
	w("root) and uses hyperfine when present (else `bin/benchtool time`, the same statistics). The\n")
	w("commands above run in the script's scratch directory: `bin/` holds the freshly built `tlseal`\n")
	w("and `benchtool` (bench/benchtool) and a copy of `bench/recipe.sh`; `pki/` the development CA\n")
	w("and signer. This run's settings: %s.\n", r.fact("settings"))
	return b.String(), verdicts
}

// machineTable describes the machine and the timing of a section.
func machineTable(b *strings.Builder, r *results, timerKey string) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("| machine | |\n|---|---|\n")
	w("| CPU | %s (%s logical CPUs, `nproc`) |\n", r.fact("cpu"), r.fact("nproc"))
	w("| memory | %s |\n", r.fact("mem"))
	w("| kernel, file system | %s, %s |\n", r.fact("kernel"), r.fact("fs"))
	w("| Go | %s |\n", r.fact("go"))
	w("| tools | %s |\n", r.fact("tools"))
	w("| timing | %s; figures are the **best** (minimum) of the runs, the median also shown; page cache warm |\n\n", r.fact(timerKey))
}

var mdStrip = strings.NewReplacer("`", "", "**", "")

func stripMD(s string) string { return mdStrip.Replace(s) }

// parseGoBench extracts MB/s (and custom metrics as NAME:unit) from go test
// -bench output, keyed by the benchmark name without the Benchmark prefix
// and the -GOMAXPROCS suffix.
func parseGoBench(out []byte) map[string]float64 {
	res := map[string]float64{}
	suffix := regexp.MustCompile(`-\d+$`)
	for _, line := range bytes.Split(out, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := suffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if unit := f[i+1]; unit == "MB/s" {
				res[name] = v
			} else {
				res[name+":"+unit] = v
			}
		}
	}
	return res
}
