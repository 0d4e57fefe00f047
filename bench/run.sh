#!/usr/bin/env bash
# Performance comparison of tlseal with the obvious alternatives, in one run.
#
# Section "verify" (issue 2): verifying a large WAV against Go's SHA-256,
# sha256sum and hashdeep; sealing it against cp (with and without sync);
# verifying a directory of small sealed JSON files against hashdeep's audit,
# sha256sum -c and the openssl + jq recipe of the seal format; peak memory;
# the Go benchmarks.
#
# Section "audit" (issue 6): an evidence archive built with tlseal ingest
# (3,000 small JSON files and 6 WAVs of 32 MiB, issue 11), audited with tlseal
# audit against hashdeep's audit of the same files, against Go's SHA-256 on
# every core and against the floor (bench/benchtool floor: SHA-256 of every
# byte plus one ECDSA P-256 verification per file, on every core); the large files alone; peak memory, and how it grows with the
# number of entries (archives of small entries built up to 100,000 entries,
# extrapolated to 1,000,000); a CPU profile of the audit.
#
# Each section writes its own generated part of docs/performance.md; a run
# of one section leaves the other's alone.
#
#   bench/run.sh                       full run, both sections, about 10 minutes
#   TLSEAL_BENCH_SECTIONS=audit bench/run.sh   the audit section only
#   TLSEAL_BENCH_QUICK=1 bench/run.sh  smoke test on small fixtures (a minute or two); the
#                                      report goes to the scratch directory and stdout,
#                                      docs/performance.md is left alone
#
# Knobs (environment):
#   TLSEAL_BENCH_QUICK=1          small fixtures, few runs
#   TLSEAL_BENCH_SECTIONS=LIST    sections to run, of "verify audit" (default both)
#   TLSEAL_BENCH_WAV_MIB=N        size of the large WAV (default 512; quick 32)
#   TLSEAL_BENCH_JSON_FILES=N     number of sealed JSON files (default 5000; quick 300)
#   TLSEAL_BENCH_RECIPE_FILES=N   files the openssl + jq recipe is timed on (default 100; quick 10)
#   TLSEAL_BENCH_AUDIT_JSON=N     small JSON files in the audited archive (default 3000; quick 500)
#   TLSEAL_BENCH_AUDIT_WAVS=N     WAVs in the audited archive (default 6; quick 4)
#   TLSEAL_BENCH_AUDIT_WAV_MIB=N  size of each of those WAVs (default 32; quick 8)
#   TLSEAL_BENCH_AUDIT_SCALE=LIST entry counts of the memory-growth archive, ascending
#                                 (default "10000 30000 100000"; quick "500 1000 2000"); add
#                                 1000000 to measure that size instead of extrapolating (its
#                                 ingest alone takes 10 to 30 minutes, and it needs about 6 GB)
#   TLSEAL_BENCH_DOC=FILE         document to update (default docs/performance.md; quick: scratch)
#   TLSEAL_BENCH_DIR=DIR          scratch directory, kept (default: a new one under $TMPDIR,
#                                 removed at the end)
#   TLSEAL_BENCH_KEEP=1           keep the default scratch directory
#   TLSEAL_BENCH_NO_INSTALL=1     do not apt-get install missing tools
#   TLSEAL_BENCH_NO_HYPERFINE=1   time with bench/benchtool even when hyperfine is there
#   TLSEAL_BENCH_IDLE_TIMEOUT=D   before each measurement, wait up to D (default 120s; quick 5s;
#                                 0: don't) for a second with 90% of the CPU idle
#
# Not run by CI: it measures, it does not test. Figures are the best of N
# runs, medians shown too; the targets are judged on ratios of commands
# measured side by side here.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
quick=${TLSEAL_BENCH_QUICK:-0}
sections=${TLSEAL_BENCH_SECTIONS:-verify audit}
if [ "$quick" = 1 ]; then
  wav_mib=${TLSEAL_BENCH_WAV_MIB:-32}
  small_mib=8
  json_n=${TLSEAL_BENCH_JSON_FILES:-300}
  recipe_n=${TLSEAL_BENCH_RECIPE_FILES:-10}
  audit_json=${TLSEAL_BENCH_AUDIT_JSON:-500}
  audit_wavs=${TLSEAL_BENCH_AUDIT_WAVS:-4}
  audit_wav_mib=${TLSEAL_BENCH_AUDIT_WAV_MIB:-8}
  audit_scale=${TLSEAL_BENCH_AUDIT_SCALE:-500 1000 2000}
  runs_big=3 runs_sign=3 runs_dir=3 runs_recipe=2 runs_audit=3 warmup=1
  benchtime=200ms
else
  wav_mib=${TLSEAL_BENCH_WAV_MIB:-512}
  small_mib=64
  json_n=${TLSEAL_BENCH_JSON_FILES:-5000}
  recipe_n=${TLSEAL_BENCH_RECIPE_FILES:-100}
  audit_json=${TLSEAL_BENCH_AUDIT_JSON:-3000}
  audit_wavs=${TLSEAL_BENCH_AUDIT_WAVS:-6}
  audit_wav_mib=${TLSEAL_BENCH_AUDIT_WAV_MIB:-32}
  audit_scale=${TLSEAL_BENCH_AUDIT_SCALE:-10000 30000 100000}
  runs_big=10 runs_sign=10 runs_dir=10 runs_recipe=3 runs_audit=10 warmup=2
  benchtime=1s
fi
mode=custom audit_mode=custom
if [ "$quick" = 1 ]; then
  mode=quick audit_mode=quick
else
  if [ "$wav_mib" = 512 ] && [ "$json_n" = 5000 ]; then
    mode=full
  fi
  scale_max=0
  for n in $audit_scale; do scale_max=$n; done
  if [ "$audit_json" = 3000 ] && [ "$audit_wavs" = 6 ] && [ "$audit_wav_mib" = 32 ] && [ "$scale_max" -ge 100000 ]; then
    audit_mode=full
  fi
fi
recipe_n=$(( recipe_n < json_n ? recipe_n : json_n ))
want() { case " $sections " in *" $1 "*) return 0 ;; esac; return 1; }
if ! want verify && ! want audit; then
  echo "bench/run.sh: TLSEAL_BENCH_SECTIONS=\"$sections\" names no section (verify, audit)" >&2
  exit 2
fi

# The scratch directory is removed at the end only when the script made it.
work=${TLSEAL_BENCH_DIR:-}
if [ -z "$work" ]; then
  work=$(mktemp -d -t tlseal-bench.XXXXXX)
  if [ "${TLSEAL_BENCH_KEEP:-0}" != 1 ]; then
    trap 'rm -rf "$work"' EXIT
  fi
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
if [ "$quick" = 1 ]; then
  doc=${TLSEAL_BENCH_DOC:-$work/performance.md}
else
  doc=${TLSEAL_BENCH_DOC:-$repo/docs/performance.md}
fi
case $doc in /*) ;; *) doc=$PWD/$doc ;; esac

say() { printf '\n== %s\n' "$*"; }

# Every discarded output goes to /dev/null: if something replaced it with a
# regular file (an atomic write to /dev/null as root does), the figures would
# include writing to disk.
if [ ! -c /dev/null ]; then
  echo "bench/run.sh: /dev/null is not a character device; restore it (as root: rm /dev/null && mknod -m 666 /dev/null c 1 3)" >&2
  exit 2
fi

# --- tools -----------------------------------------------------------------
need=()
for t in hashdeep:hashdeep openssl:openssl jq:jq /usr/bin/time:time hyperfine:hyperfine; do
  command -v "${t%%:*}" > /dev/null 2>&1 || need+=("${t##*:}")
done
if [ ${#need[@]} -gt 0 ] && [ "${TLSEAL_BENCH_NO_INSTALL:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  for p in "${need[@]}"; do apt-get install -y -qq "$p" > /dev/null || echo "could not install $p"; done
fi
for t in hashdeep openssl jq /usr/bin/time go sha256sum; do
  command -v "$t" > /dev/null 2>&1 || { echo "bench/run.sh: $t is required" >&2; exit 2; }
done
hyperfine=
if [ "${TLSEAL_BENCH_NO_HYPERFINE:-0}" != 1 ] && command -v hyperfine > /dev/null 2>&1; then
  hyperfine=hyperfine
fi

# --- build -------------------------------------------------------------------
say "building tlseal and benchtool into the scratch directory"
mkdir -p "$work/bin" "$work/results"
(cd "$repo" && go build -o "$work/bin/tlseal" ./cmd/tlseal && go build -o "$work/bin/benchtool" ./bench/benchtool)
cp "$repo/bench/recipe.sh" "$work/bin/recipe.sh"
chmod +x "$work/bin/recipe.sh"
cd "$work"
rm -rf results pki && mkdir results
: > results/commands.tsv

# measure KEY RUNS WARMUP PREPARE COMMAND
# Waits first for a quiet machine (TLSEAL_BENCH_IDLE_TIMEOUT, default 120s; 0 disables):
# other people's builds and tests on a shared machine would land in the figures.
measure() {
  local key=$1 runs=$2 wu=$3 prepare=$4 cmd=$5
  printf '%s\t%s\n' "$key" "$cmd" >> results/commands.tsv
  say "$key: $cmd"
  if [ "$idle_timeout" != 0 ] && [ "$(bin/benchtool idle -timeout "$idle_timeout")" = busy ]; then
    echo "(the machine is busy: measuring anyway)"
    busy+=("$key")
  fi
  if [ -n "$hyperfine" ]; then
    local args=(--style basic --runs "$runs" --warmup "$wu" -n "$key" --export-json "results/$key.json")
    [ -n "$prepare" ] && args+=(--prepare "$prepare")
    hyperfine "${args[@]}" "$cmd"
  else
    bin/benchtool time -runs "$runs" -warmup "$wu" -prepare "$prepare" -name "$key" -o "results/$key.json" "$cmd"
  fi
}

# peak COMMAND...: the largest max RSS (KiB) of 3 runs, standard output discarded.
peak() {
  local best=0 v
  for _ in 1 2 3; do
    /usr/bin/time -f '%M' -o results/rss.tmp "$@" > /dev/null
    v=$(tail -n 1 results/rss.tmp)
    [ "$v" -gt "$best" ] && best=$v
  done
  rm -f out.wav
  echo "$best"
}

# elapsed T0 T1: seconds between two `date +%s.%N` readings.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# wait_idle: the wait of measure(), for measurements made without it.
wait_idle() {
  if [ "$idle_timeout" != 0 ]; then
    bin/benchtool idle -timeout "$idle_timeout" > /dev/null
  fi
  return 0
}

busy=()
idle_timeout=${TLSEAL_BENCH_IDLE_TIMEOUT:-$([ "$quick" = 1 ] && echo 5s || echo 120s)}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "sections: $sections"
bin/benchtool pki pki
signer=(--cert pki/signer.pem --key pki/signer.key)

if want verify; then
  # --- fixtures ------------------------------------------------------------------
  say "fixtures: ${wav_mib} MiB WAV, ${small_mib} MiB WAV, ${json_n} sealed JSON files"
  rm -rf events sample orig.wav sealed.wav small.wav small.sealed.wav out.wav copy.wav
  bin/benchtool wav -size $(( wav_mib << 20 )) orig.wav
  bin/tlseal sign "${signer[@]}" orig.wav -o sealed.wav > /dev/null
  bin/benchtool wav -size $(( small_mib << 20 )) small.wav
  bin/tlseal sign "${signer[@]}" small.wav -o small.sealed.wav > /dev/null
  events_out=$(bin/benchtool events -cert pki/signer.pem -key pki/signer.key -n "$json_n" -size 2048 events)
  echo "$events_out"
  json_avg=$(echo "$events_out" | awk '{print $(NF-4)}')
  hashdeep -c sha256 -r events > known.txt
  sha256sum events/* > sums.txt
  mkdir sample
  all=(events/*.json)
  cp "${all[@]:0:recipe_n}" sample/

  say "sanity: every baseline agrees the fixtures are intact"
  bin/tlseal verify --ca pki/ca.pem sealed.wav small.sealed.wav > /dev/null
  bin/tlseal verify --ca pki/ca.pem events > /dev/null
  hashdeep -c sha256 -r -a -k known.txt events > /dev/null
  sha256sum --quiet -c sums.txt
  TLSEAL=bin/tlseal bin/recipe.sh pki/ca.pem sample/*.json
  # Warm the page cache: every command reads files that are in memory.
  cat orig.wav sealed.wav small.sealed.wav events/* > /dev/null

  # --- 1. verifying one large WAV ------------------------------------------------------
  measure verify-wav "$runs_big" "$warmup" "" "bin/tlseal verify --ca pki/ca.pem sealed.wav"
  measure go-sha256-wav "$runs_big" "$warmup" "" "bin/benchtool sha256 sealed.wav"
  measure sha256sum-wav "$runs_big" "$warmup" "" "sha256sum sealed.wav"
  measure hashdeep-wav "$runs_big" "$warmup" "" "hashdeep -c sha256 sealed.wav"

  say "peak memory (max RSS, KiB; the largest of 3 runs)"
  wait_idle
  rss_big=$(peak bin/tlseal verify --ca pki/ca.pem sealed.wav)
  rss_small=$(peak bin/tlseal verify --ca pki/ca.pem small.sealed.wav)
  rss_sign=$(peak bin/tlseal sign "${signer[@]}" --force orig.wav -o out.wav)
  rss_dir=$(peak bin/tlseal verify --ca pki/ca.pem events)
  echo "verify ${wav_mib} MiB: $rss_big; verify ${small_mib} MiB: $rss_small; sign ${wav_mib} MiB: $rss_sign; verify DIR: $rss_dir"

  # --- 2. sealing one large WAV ---------------------------------------------------------
  # Each run starts from the same state: no output file, nothing left to write back.
  clean='rm -f out.wav copy.wav && sync'
  measure sign-wav "$runs_sign" 1 "$clean" "bin/tlseal sign --cert pki/signer.pem --key pki/signer.key orig.wav -o out.wav"
  measure seal-nosync-wav "$runs_sign" 1 "$clean" "bin/benchtool seal -cert pki/signer.pem -key pki/signer.key orig.wav out.wav"
  measure cp-wav "$runs_sign" 1 "$clean" "cp orig.wav copy.wav"
  measure cp-sync-wav "$runs_sign" 1 "$clean" "cp orig.wav copy.wav && sync copy.wav ."
  measure go-sha256-orig "$runs_sign" 1 "" "bin/benchtool sha256 orig.wav"
  rm -f out.wav copy.wav

  # --- 3. verifying a directory of small sealed JSON files ------------------------------
  measure verify-dir "$runs_dir" "$warmup" "" "bin/tlseal verify --ca pki/ca.pem events"
  measure verify-dir-jobs1 "$runs_dir" "$warmup" "" "bin/tlseal verify --ca pki/ca.pem --jobs 1 events"
  measure hashdeep-dir "$runs_dir" "$warmup" "" "hashdeep -c sha256 -r -a -k known.txt events"
  measure sha256sum-dir "$runs_dir" "$warmup" "" "sha256sum --quiet -c sums.txt"
  measure recipe-sample "$runs_recipe" 0 "" "TLSEAL=bin/tlseal bin/recipe.sh pki/ca.pem sample/*.json"

  # --- Go benchmarks ---------------------------------------------------------------------
  say "Go benchmarks (-benchtime $benchtime)"
  wait_idle
  if ! (cd "$repo" && go test -run '^$' -bench . -benchmem -benchtime "$benchtime" ./timeline ./verify ./internal/p256verify) > results/gobench.txt 2>&1; then
    cat results/gobench.txt
    echo "(the Go benchmarks failed: the report leaves them out)"
    mv results/gobench.txt results/gobench.failed
  else
    cat results/gobench.txt
  fi
fi

if want audit; then
  # --- 4. auditing an evidence archive (issue 6) -----------------------------------------
  # The archive is built the way users build one: tlseal ingest of a directory of
  # originals (each sealed, fsynced, appended to the log; a checkpoint at the end).
  : > results/facts-audit.env
  afact() { printf '%s=%s\n' "$1" "$2" >> results/facts-audit.env; }
  say "audit fixtures: an archive of ${audit_json} JSON files and ${audit_wavs} WAVs of ${audit_wav_mib} MiB (tlseal ingest)"
  rm -rf src archive scale scale-src audit-known.txt wavs.txt wavpaths.txt
  bin/benchtool originals -cert pki/signer.pem -key pki/signer.key -n "$audit_json" -size 2048 src/events
  mkdir -p src/rec
  for i in $(seq 1 "$audit_wavs"); do
    bin/benchtool wav -seed "$i" -size $(( audit_wav_mib << 20 )) "$(printf 'src/rec/rec-%03d.wav' "$i")"
  done
  t0=$(date +%s.%N)
  bin/tlseal ingest --archive archive "${signer[@]}" src | tail -n 1 > results/ingest.log
  t1=$(date +%s.%N)
  cat results/ingest.log
  rm -rf src
  afact audit_ingest_s "$(elapsed "$t0" "$t1")"
  (cd archive && find files/rec -type f | sort) > wavs.txt
  sed 's|^|archive/|' wavs.txt > wavpaths.txt
  hashdeep -c sha256 -r archive/files > audit-known.txt

  say "sanity: the audit passes, hashdeep's audit passes"
  bin/tlseal audit --ca pki/ca.pem --quiet --format json=- archive > results/audit-report.json
  bin/tlseal audit --ca pki/ca.pem --quiet --files-from wavs.txt --format json=- archive > /dev/null
  hashdeep -c sha256 -r -a -k audit-known.txt archive/files
  all_out=$(bin/benchtool sha256par archive/files)
  wav_out=$(bin/benchtool sha256par -list wavpaths.txt)
  echo "$all_out"
  echo "$wav_out"
  afact audit_json_files "$audit_json"
  afact audit_wav_files "$audit_wavs"
  afact audit_wav_mib "$audit_wav_mib"
  afact audit_files "$(echo "$all_out" | awk '{print $1}')"
  afact audit_bytes "$(echo "$all_out" | awk '{print $3}')"
  afact audit_wav_bytes "$(echo "$wav_out" | awk '{print $3}')"
  afact audit_json_bytes_avg "$(find archive/files/events -type f -printf '%s\n' | awk '{s += $1} END {if (NR) printf "%.0f", s / NR}')"
  afact audit_report_bytes "$(stat -c %s results/audit-report.json)"
  # Warm the page cache: every command reads files that are in memory.
  find archive -type f -exec cat {} + > /dev/null

  audit_cmd="bin/tlseal audit --ca pki/ca.pem --quiet --format json=- archive > /dev/null"
  measure audit-archive "$runs_audit" "$warmup" "" "$audit_cmd"
  measure hashdeep-archive "$runs_audit" "$warmup" "" "hashdeep -c sha256 -r -a -k audit-known.txt archive/files"
  measure sha256par-archive "$runs_audit" "$warmup" "" "bin/benchtool sha256par archive/files"
  measure floor-archive "$runs_audit" "$warmup" "" "bin/benchtool floor archive/files"
  measure floor-table-archive "$runs_audit" "$warmup" "" "bin/benchtool floor -verifier table archive/files"
  measure audit-archive-jobs1 "$runs_audit" "$warmup" "" "bin/tlseal audit --ca pki/ca.pem --quiet --jobs 1 --format json=- archive > /dev/null"
  measure audit-wavs "$runs_audit" "$warmup" "" "bin/tlseal audit --ca pki/ca.pem --quiet --files-from wavs.txt --format json=- archive > /dev/null"
  measure sha256par-wavs "$runs_audit" "$warmup" "" "bin/benchtool sha256par -list wavpaths.txt"
  measure sha256par1-wavs "$runs_audit" "$warmup" "" "bin/benchtool sha256par -jobs 1 -list wavpaths.txt"

  say "audit: peak memory (max RSS, KiB; the largest of 3 runs)"
  wait_idle
  afact rss_audit_archive_kib "$(peak bin/tlseal audit --ca pki/ca.pem --quiet --format json=- archive)"
  afact rss_audit_wavs_kib "$(peak bin/tlseal audit --ca pki/ca.pem --quiet --files-from wavs.txt --format json=- archive)"
  afact rss_hashdeep_archive_kib "$(peak hashdeep -c sha256 -r -a -k audit-known.txt archive/files)"
  grep rss_ results/facts-audit.env

  say "audit: a CPU profile of the same work in process (bin/benchtool audit)"
  wait_idle
  bin/benchtool audit -ca pki/ca.pem -cpuprofile results/audit-archive.pprof archive
  go tool pprof -top -cum -nodecount=100000 bin/benchtool results/audit-archive.pprof > results/audit-archive.top 2> /dev/null
  bin/benchtool audit -ca pki/ca.pem -files-from wavs.txt -cpuprofile results/audit-wavs.pprof archive
  go tool pprof -top -cum -nodecount=100000 bin/benchtool results/audit-wavs.pprof > results/audit-wavs.top 2> /dev/null

  say "Go benchmarks of the per-entry floor: SHA-256 and ECDSA P-256 verification (-benchtime $benchtime)"
  wait_idle
  if ! (cd "$repo" && go test -run '^$' -bench '^Benchmark(SHA256|ECDSAP256Verify|P256Verify)$' -benchtime "$benchtime" ./timeline ./internal/p256verify) > results/gobench-audit.txt 2>&1; then
    cat results/gobench-audit.txt
    echo "(the Go benchmarks failed: the report leaves the floor out)"
    mv results/gobench-audit.txt results/gobench-audit.failed
  else
    cat results/gobench-audit.txt
  fi

  # --- 5. memory as the archive grows ------------------------------------------------------
  # One archive of small JSON entries only, grown with tlseal ingest to each size
  # of $audit_scale in turn; at each size, the peak RSS of one audit and of its
  # parts in process: archive.Check alone (log, files, signatures), then
  # verify.Archive (one result kept per entry), then with the JSON report.
  say "memory growth: archives of ${audit_scale// /, } small entries"
  : > results/scale.tsv
  rss_stage() {
    /usr/bin/time -f '%M' -o results/rss.tmp bin/benchtool audit -ca pki/ca.pem -stage "$1" scale > /dev/null
    tail -n 1 results/rss.tmp
  }
  have=0
  for n in $audit_scale; do
    if [ "$n" -le "$have" ]; then
      echo "bench/run.sh: TLSEAL_BENCH_AUDIT_SCALE must ascend" >&2
      exit 2
    fi
    # Originals are made and ingested 100,000 at a time, which bounds the
    # scratch space; the ingest time is the sum.
    added=$(( n - have ))
    ingest_s=0
    while [ "$have" -lt "$n" ]; do
      chunk=$(( n - have < 100000 ? n - have : 100000 ))
      rm -rf scale-src
      bin/benchtool originals -cert pki/signer.pem -key pki/signer.key -first "$have" -n "$chunk" -size 2048 scale-src > /dev/null
      t0=$(date +%s.%N)
      bin/tlseal ingest --archive scale "${signer[@]}" scale-src | tail -n 1 > results/scale-ingest.log
      t1=$(date +%s.%N)
      rm -rf scale-src
      ingest_s=$(awk -v s="$ingest_s" -v d="$(elapsed "$t0" "$t1")" 'BEGIN { printf "%.2f", s + d }')
      have=$(( have + chunk ))
    done
    echo "ingested $added files in ${ingest_s} s: $(cat results/scale-ingest.log)"
    find scale -type f -exec cat {} + > /dev/null
    wait_idle
    /usr/bin/time -f '%e %M' -o results/rss.tmp bin/tlseal audit --ca pki/ca.pem --quiet --format json=- scale > /dev/null
    read -r wall rss_cli < results/rss.tmp
    rss_check=$(rss_stage check)
    rss_archive=$(rss_stage archive)
    rss_report=$(rss_stage report)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$added" "$ingest_s" "$wall" "$rss_cli" "$rss_check" "$rss_archive" "$rss_report" >> results/scale.tsv
    echo "$n entries: audit ${wall} s, max RSS ${rss_cli} KiB (check ${rss_check}, archive ${rss_archive}, report ${rss_report})"
  done
  say "memory growth: CPU profile and peak heap profile of the audit of the largest archive"
  wait_idle
  bin/benchtool audit -ca pki/ca.pem -cpuprofile results/audit-scale.pprof -peakheap results/audit-scale-heap.pprof scale
  go tool pprof -top -cum -nodecount=100000 bin/benchtool results/audit-scale.pprof > results/audit-scale.top 2> /dev/null
  go tool pprof -sample_index=inuse_space -top -nodecount=12 bin/benchtool results/audit-scale-heap.pprof > results/audit-scale-heap.top 2> /dev/null
  cat results/audit-scale-heap.top
  afact audit_scale "$audit_scale"
  afact audit_mode "$audit_mode"
  afact audit_settings "TLSEAL_BENCH_AUDIT_JSON=$audit_json TLSEAL_BENCH_AUDIT_WAVS=$audit_wavs TLSEAL_BENCH_AUDIT_WAV_MIB=$audit_wav_mib TLSEAL_BENCH_AUDIT_SCALE=\"$audit_scale\""
fi

# --- report ----------------------------------------------------------------------------
if [ -n "$hyperfine" ]; then
  timer="$(hyperfine --version)"
else
  timer="bench/benchtool time"
fi
{
  echo "date=$(date -u +%Y-%m-%d' '%H:%M' UTC')"
  echo "nproc=$(nproc)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel=$(uname -sr)"
  echo "fs=$(df -T . | awk 'NR==2 {print $2}')"
  echo "go=$(go version | cut -d' ' -f3-)"
  echo "tools=$(hashdeep -V 2>&1 | head -n1 | sed 's/^/hashdeep /'), $(openssl version | cut -d' ' -f1-2), $(jq --version), $(sha256sum --version | head -n1 | sed 's/.*(GNU coreutils)/coreutils/')"
  echo "load_before=$load_before"
  echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "busy=${busy[*]:-}"
  if want verify; then
    echo "mode=$mode"
    echo "timer=$timer, $runs_big runs per command ($runs_sign for sealing, $runs_recipe for the recipe) after $warmup warm-up run(s)"
    echo "wav_bytes=$(stat -c %s orig.wav)"
    echo "sealed_wav_bytes=$(stat -c %s sealed.wav)"
    echo "sealed_wav_small_bytes=$(stat -c %s small.sealed.wav)"
    echo "json_files=$json_n"
    echo "json_bytes_avg=$json_avg"
    echo "recipe_files=$recipe_n"
    echo "rss_verify_wav_kib=$rss_big"
    echo "rss_verify_wav_small_kib=$rss_small"
    echo "rss_sign_wav_kib=$rss_sign"
    echo "rss_verify_dir_kib=$rss_dir"
    echo "settings=TLSEAL_BENCH_WAV_MIB=$wav_mib TLSEAL_BENCH_JSON_FILES=$json_n TLSEAL_BENCH_RECIPE_FILES=$recipe_n"
  fi
  if want audit; then
    echo "audit_timer=$timer, $runs_audit runs per command after $warmup warm-up run(s)"
    cat results/facts-audit.env
  fi
} > results/facts.env

mkdir -p "$(dirname "$doc")"
say "targets"
bin/benchtool report -results results -doc "$doc"
if [ "$quick" = 1 ]; then
  say "report (quick mode: $doc)"
  cat "$doc"
else
  say "wrote $doc"
fi
