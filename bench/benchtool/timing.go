package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hfExport is the part of hyperfine's --export-json format that the report
// reads; cmdTime writes the same format when hyperfine is not installed.
type hfExport struct {
	Results []hfResult `json:"results"`
}

type hfResult struct {
	Command   string    `json:"command"`
	Mean      float64   `json:"mean"`
	Stddev    float64   `json:"stddev"`
	Median    float64   `json:"median"`
	User      float64   `json:"user"`
	System    float64   `json:"system"`
	Min       float64   `json:"min"`
	Max       float64   `json:"max"`
	Times     []float64 `json:"times"`
	ExitCodes []int     `json:"exit_codes"`
}

// cmdTime is a small stand-in for hyperfine: it runs a shell command
// -warmup times unmeasured, then -runs times measured (wall clock, and the
// children's user and system CPU time), running -prepare before each run.
// A non-zero exit status fails the measurement, as in hyperfine.
func cmdTime(args []string) error {
	fs := flag.NewFlagSet("time", flag.ContinueOnError)
	runs := fs.Int("runs", 5, "measured runs")
	warmup := fs.Int("warmup", 1, "unmeasured runs first")
	prepare := fs.String("prepare", "", "shell command run before each run, unmeasured")
	name := fs.String("name", "", "name of the command in the export")
	out := fs.String("o", "", "JSON export file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *out == "" || *runs < 1 {
		return errors.New("usage: benchtool time -runs N -warmup W [-prepare CMD] -name K -o OUT.json CMD")
	}
	command := fs.Arg(0)
	if *name == "" {
		*name = command
	}
	run := func() (wall, user, sys float64, err error) {
		if *prepare != "" {
			if err := exec.Command("sh", "-c", *prepare).Run(); err != nil {
				return 0, 0, 0, fmt.Errorf("prepare: %w", err)
			}
		}
		c := exec.Command("sh", "-c", command)
		c.Stderr = os.Stderr
		start := time.Now()
		err = c.Run()
		wall = time.Since(start).Seconds()
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s: %w", command, err)
		}
		ru, _ := c.ProcessState.SysUsage().(*syscall.Rusage)
		if ru != nil {
			user = time.Duration(ru.Utime.Nano()).Seconds()
			sys = time.Duration(ru.Stime.Nano()).Seconds()
		}
		return wall, user, sys, nil
	}
	for i := 0; i < *warmup; i++ {
		if _, _, _, err := run(); err != nil {
			return err
		}
	}
	r := hfResult{Command: *name}
	for i := 0; i < *runs; i++ {
		wall, user, sys, err := run()
		if err != nil {
			return err
		}
		r.Times = append(r.Times, wall)
		r.ExitCodes = append(r.ExitCodes, 0)
		r.User += user / float64(*runs)
		r.System += sys / float64(*runs)
	}
	sorted := slices.Sorted(slices.Values(r.Times))
	r.Min, r.Max = sorted[0], sorted[len(sorted)-1]
	r.Median = median(sorted)
	for _, t := range sorted {
		r.Mean += t / float64(len(sorted))
	}
	for _, t := range sorted {
		r.Stddev += (t - r.Mean) * (t - r.Mean) / float64(max(1, len(sorted)-1))
	}
	r.Stddev = math.Sqrt(r.Stddev)
	fmt.Printf("%s: median %.3f s, min %.3f s (%d runs)\n", *name, r.Median, r.Min, *runs)
	data, err := json.MarshalIndent(hfExport{Results: []hfResult{r}}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*out, data, 0o644)
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// cmdIdle waits until the machine is quiet: a -window during which at least
// -min of all CPU time was idle (from /proc/stat). Other people's builds
// and tests on a shared machine would otherwise land in the measurements.
// After -timeout it gives up, prints "busy" and exits 0 (the caller records
// that the measurement ran on a busy machine); otherwise it prints "idle".
func cmdIdle(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	minIdle := fs.Float64("min", 0.9, "idle fraction required")
	window := fs.Duration("window", time.Second, "measurement window")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after")
	if err := fs.Parse(args); err != nil {
		return err
	}
	deadline := time.Now().Add(*timeout)
	for {
		idle0, total0, err := cpuTimes()
		if err != nil {
			return err
		}
		time.Sleep(*window)
		idle1, total1, err := cpuTimes()
		if err != nil {
			return err
		}
		if total1 > total0 && float64(idle1-idle0)/float64(total1-total0) >= *minIdle {
			fmt.Println("idle")
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Println("busy")
			return nil
		}
	}
}

// cpuTimes reads the idle (idle + iowait) and total jiffies of all CPUs.
func cpuTimes() (idle, total uint64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, errors.New("/proc/stat: no cpu line")
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	return idle, total, nil
}
