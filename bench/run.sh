#!/usr/bin/env bash
# Performance comparison of tlseal with the obvious alternatives, in one run
# (issue 2): verifying a large WAV against Go's SHA-256, sha256sum and
# hashdeep; sealing it against cp (with and without sync); verifying a
# directory of small sealed JSON files against hashdeep's audit, sha256sum -c
# and the openssl + jq recipe of the seal format; peak memory; the Go
# benchmarks. Writes the generated section of docs/performance.md.
#
#   bench/run.sh                       full run (512 MiB WAV, 5,000 JSON files), a few minutes
#   TLSEAL_BENCH_QUICK=1 bench/run.sh  smoke test on small fixtures (about a minute); the
#                                      report goes to the scratch directory and stdout,
#                                      docs/performance.md is left alone
#
# Knobs (environment):
#   TLSEAL_BENCH_QUICK=1          small fixtures, few runs
#   TLSEAL_BENCH_WAV_MIB=N        size of the large WAV (default 512; quick 32)
#   TLSEAL_BENCH_JSON_FILES=N     number of sealed JSON files (default 5000; quick 300)
#   TLSEAL_BENCH_RECIPE_FILES=N   files the openssl + jq recipe is timed on (default 100; quick 10)
#   TLSEAL_BENCH_DOC=FILE         document to update (default docs/performance.md; quick: scratch)
#   TLSEAL_BENCH_DIR=DIR          scratch directory, kept (default: a new one under $TMPDIR,
#                                 removed at the end)
#   TLSEAL_BENCH_KEEP=1           keep the default scratch directory
#   TLSEAL_BENCH_NO_INSTALL=1     do not apt-get install missing tools
#   TLSEAL_BENCH_NO_HYPERFINE=1   time with bench/benchtool even when hyperfine is there
#   TLSEAL_BENCH_IDLE_TIMEOUT=D   before each measurement, wait up to D (default 120s; quick 5s;
#                                 0: don't) for a second with 90% of the CPU idle
#
# Not run by CI: it measures, it does not test. Figures are medians; the
# targets are judged on ratios of commands measured side by side here.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
quick=${TLSEAL_BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
  wav_mib=${TLSEAL_BENCH_WAV_MIB:-32}
  small_mib=8
  json_n=${TLSEAL_BENCH_JSON_FILES:-300}
  recipe_n=${TLSEAL_BENCH_RECIPE_FILES:-10}
  runs_big=3 runs_sign=3 runs_dir=3 runs_recipe=2 warmup=1
  benchtime=200ms
else
  wav_mib=${TLSEAL_BENCH_WAV_MIB:-512}
  small_mib=64
  json_n=${TLSEAL_BENCH_JSON_FILES:-5000}
  recipe_n=${TLSEAL_BENCH_RECIPE_FILES:-100}
  runs_big=10 runs_sign=5 runs_dir=10 runs_recipe=3 warmup=2
  benchtime=1s
fi
mode=custom
if [ "$quick" = 1 ]; then
  mode=quick
elif [ "$wav_mib" = 512 ] && [ "$json_n" = 5000 ]; then
  mode=full
fi
recipe_n=$(( recipe_n < json_n ? recipe_n : json_n ))

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
if [ "$mode" = quick ]; then
  doc=${TLSEAL_BENCH_DOC:-$work/performance.md}
else
  doc=${TLSEAL_BENCH_DOC:-$repo/docs/performance.md}
fi
case $doc in /*) ;; *) doc=$PWD/$doc ;; esac

say() { printf '\n== %s\n' "$*"; }

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
rm -rf results && mkdir results
: > results/commands.tsv

# --- fixtures ------------------------------------------------------------------
say "fixtures: PKI, ${wav_mib} MiB WAV, ${small_mib} MiB WAV, ${json_n} sealed JSON files"
rm -rf pki events sample orig.wav sealed.wav small.wav small.sealed.wav out.wav copy.wav
bin/benchtool pki pki
signer=(--cert pki/signer.pem --key pki/signer.key)
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

busy=()
idle_timeout=${TLSEAL_BENCH_IDLE_TIMEOUT:-$([ "$mode" = quick ] && echo 5s || echo 120s)}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 1. verifying one large WAV ------------------------------------------------------
measure verify-wav "$runs_big" "$warmup" "" "bin/tlseal verify --ca pki/ca.pem sealed.wav"
measure go-sha256-wav "$runs_big" "$warmup" "" "bin/benchtool sha256 sealed.wav"
measure sha256sum-wav "$runs_big" "$warmup" "" "sha256sum sealed.wav"
measure hashdeep-wav "$runs_big" "$warmup" "" "hashdeep -c sha256 sealed.wav"

say "peak memory (max RSS, KiB; the largest of 3 runs)"
[ "$idle_timeout" != 0 ] && bin/benchtool idle -timeout "$idle_timeout" > /dev/null
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
[ "$idle_timeout" != 0 ] && bin/benchtool idle -timeout "$idle_timeout" > /dev/null
if ! (cd "$repo" && go test -run '^$' -bench . -benchmem -benchtime "$benchtime" ./timeline ./verify) > results/gobench.txt 2>&1; then
  cat results/gobench.txt
  echo "(the Go benchmarks failed: the report leaves them out)"
  mv results/gobench.txt results/gobench.failed
else
  cat results/gobench.txt
fi

# --- report ----------------------------------------------------------------------------
if [ -n "$hyperfine" ]; then
  timer="$(hyperfine --version)"
else
  timer="bench/benchtool time"
fi
timer="$timer, $runs_big runs per command ($runs_sign for sealing, $runs_recipe for the recipe) after $warmup warm-up run(s)"
{
  echo "mode=$mode"
  echo "date=$(date -u +%Y-%m-%d' '%H:%M' UTC')"
  echo "nproc=$(nproc)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel=$(uname -sr)"
  echo "fs=$(df -T . | awk 'NR==2 {print $2}')"
  echo "go=$(go version | cut -d' ' -f3-)"
  echo "tools=$(hashdeep -V 2>&1 | head -n1 | sed 's/^/hashdeep /'), $(openssl version | cut -d' ' -f1-2), $(jq --version), $(sha256sum --version | head -n1 | sed 's/.*(GNU coreutils)/coreutils/')"
  echo "timer=$timer"
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
  echo "load_before=$load_before"
  echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "busy=${busy[*]:-}"
  echo "settings=TLSEAL_BENCH_WAV_MIB=$wav_mib TLSEAL_BENCH_JSON_FILES=$json_n TLSEAL_BENCH_RECIPE_FILES=$recipe_n"
} > results/facts.env

mkdir -p "$(dirname "$doc")"
say "targets"
bin/benchtool report -results results -doc "$doc"
if [ "$mode" = quick ]; then
  say "report (quick mode: $doc)"
  cat "$doc"
else
  say "wrote $doc"
fi
