// Command benchtool is the helper of bench/run.sh: it makes the fixtures of
// the performance comparison (a development PKI, a large WAV, sealed event
// JSON files), provides the Go SHA-256 baseline, times commands when
// hyperfine is missing, and writes the measured figures into
// docs/performance.md. It is not part of tlseal.
//
//	benchtool pki DIR                              ca.pem, signer.pem, signer.key
//	benchtool wav -size BYTES [-seed S] OUT        a PCM WAV of noise
//	benchtool events -cert C -key K -n N -size B DIR   N sealed event files of about B bytes
//	benchtool sha256 FILE...                       Go's SHA-256, read in 1 MiB pieces
//	benchtool sha256par [-jobs N] [-list F] [FILE|DIR...]  the same on N goroutines (N cores × Go SHA-256)
//	benchtool floor [-jobs N] [-list F] [-verifier ecdsa|table] [FILE|DIR...]  sha256par plus one ECDSA P-256 verification per file: an audit's floor
//	benchtool originals -cert C -key K -n N [-first K] -size B DIR  unsealed event files for tlseal ingest
//	benchtool audit -ca CA [-cpuprofile F] [-trace F] [-memprofile F] ARCHIVE  tlseal audit in process (profiling)
//	benchtool seal -cert C -key K IN OUT           timeline.Seal to OUT without fsync (diagnostic)
//	benchtool time -runs N -warmup W [-prepare CMD] -name K -o OUT.json CMD
//	benchtool idle [-min 0.9] [-window 1s] [-timeout 2m]   wait for a quiet machine
//	benchtool report -results DIR -doc FILE
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "pki":
		err = cmdPKI(args)
	case "wav":
		err = cmdWAV(args)
	case "events":
		err = cmdEvents(args)
	case "sha256":
		err = cmdSHA256(args)
	case "sha256par":
		err = cmdSHA256Par(args)
	case "floor":
		err = cmdFloor(args)
	case "audit":
		err = cmdAudit(args)
	case "originals":
		err = cmdOriginals(args)
	case "seal":
		err = cmdSeal(args)
	case "time":
		err = cmdTime(args)
	case "idle":
		err = cmdIdle(args)
	case "report":
		err = cmdReport(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchtool pki|wav|events|originals|sha256|sha256par|floor|seal|audit|time|idle|report ... (see bench/run.sh)")
	os.Exit(2)
}
