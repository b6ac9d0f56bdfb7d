#!/usr/bin/env bash
# capgen at scale against the baseline a user would run instead: protox + prost-build's `compile_fds`
# (`benches/codegen`), over googleapis as npm publishes it (`scripts/fetch-googleapis.sh`; nothing is committed).
#
#   scripts/bench-codegen.sh [medium|compute|full] [RUNS] [--compile]
#
#   medium   google/api, google/rpc, google/type, google/longrunning
#   compute  google/cloud/compute/v1 (one big package)
#   full     every file under google/ and grafeas/ (7,207 files)
#
# Each tool runs RUNS times (default 3) into a fresh directory; the medians of wall time and of peak RSS
# (`/usr/bin/time -v`) and the output bytes are printed with capgen's ratio to the baseline, then capgen's
# incremental case: `generate` again and `check`, RUNS times each, over the unchanged output of its last run.
# `--compile` also builds each output as a crate (`cargo build`, debug, dependencies built first) RUNS times
# and prints the medians of those build times. Both tools are built in release mode first.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

subset=${1:-medium}
runs=${2:-3}
compile=no
[ "${3:-}" = "--compile" ] && compile=yes
target=${CARGO_TARGET_DIR:-$repo/target}
work=${BENCH_WORK:-${TMPDIR:-/tmp}/capacitor-bench-codegen}
mkdir -p "$work"

root=$(scripts/fetch-googleapis.sh)
case "$subset" in
  medium) dirs=(google/api google/rpc google/type google/longrunning) ;;
  compute) dirs=(google/cloud/compute/v1) ;;
  full) dirs=(google grafeas) ;;
  *) echo "bench-codegen.sh: unknown subset '$subset' (medium, compute, full)" >&2; exit 2 ;;
esac
mapfile -t files < <(cd "$root" && find "${dirs[@]}" -name '*.proto' | LC_ALL=C sort)
echo "corpus: google-proto-files@6.0.1, subset '$subset': ${#files[@]} files" >&2

echo "building capgen and the baseline (release)..." >&2
cargo build -q --release -p capacitor-codegen --bin capgen
(cd benches/codegen && cargo build -q --release --target-dir "$target")
capgen="$target/release/capgen"
baseline="$target/release/prost-baseline"

# One timed run: prints "seconds kilobytes" of the command's wall time and peak RSS.
timed() {
  local log="$work/time.log"
  /usr/bin/time -v -o "$log" "$@" >/dev/null 2>"$work/stderr.log" || {
    cat "$work/stderr.log" >&2
    return 1
  }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" |
    awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  echo "$wall $rss"
}

median() { LC_ALL=C sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure NAME OUTDIR CMD...: RUNS runs, each into an empty OUTDIR; sets NAME_wall, NAME_rss, NAME_bytes.
measure() {
  local name=$1 out=$2
  shift 2
  local walls=() rsses=()
  for _ in $(seq "$runs"); do
    rm -rf "$out" && mkdir -p "$out"
    read -r wall rss < <(timed "$@")
    walls+=("$wall")
    rsses+=("$rss")
    echo "  $name: ${wall}s, $((rss / 1024)) MB" >&2
  done
  printf -v "${name}_wall" '%s' "$(printf '%s\n' "${walls[@]}" | median)"
  printf -v "${name}_rss" '%s' "$(printf '%s\n' "${rsses[@]}" | median)"
  printf -v "${name}_bytes" '%s' "$(cat "$out"/*.rs | wc -c)"
}

cd "$root"
measure baseline "$work/out-prost" "$baseline" generate --out "$work/out-prost" -I . -- "${files[@]}"
measure capgen "$work/out-capgen" "$capgen" generate -I . --out "$work/out-capgen" "${files[@]}"

# rerun NAME CMD...: RUNS runs over the output the last full run left (nothing changed); sets NAME_wall.
rerun() {
  local name=$1
  shift
  local walls=()
  for _ in $(seq "$runs"); do
    read -r wall _ < <(timed "$@")
    walls+=("$wall")
    echo "  $name: ${wall}s" >&2
  done
  printf -v "${name}_wall" '%s' "$(printf '%s\n' "${walls[@]}" | median)"
}
rerun unchanged "$capgen" generate -I . --out "$work/out-capgen" "${files[@]}"
rerun check "$capgen" check -I . --out "$work/out-capgen" "${files[@]}"
cd "$repo"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
echo
echo "subset '$subset' (${#files[@]} files), medians of $runs runs, commit $(git rev-parse --short HEAD)"
printf '%-26s %14s %14s %8s\n' "" "capgen" "protox+prost" "ratio"
printf '%-26s %14s %14s %8s\n' "wall time (s)" "$capgen_wall" "$baseline_wall" "$(ratio "$capgen_wall" "$baseline_wall")×"
printf '%-26s %14s %14s %8s\n' "peak RSS (MB)" "$((capgen_rss / 1024))" "$((baseline_rss / 1024))" "$(ratio "$capgen_rss" "$baseline_rss")×"
printf '%-26s %14s %14s %8s\n' "output (bytes)" "$capgen_bytes" "$baseline_bytes" "$(ratio "$capgen_bytes" "$baseline_bytes")×"
echo "incremental, nothing changed: capgen against its own full run (wall time, s)"
printf '%-26s %14s %14s %8s\n' "second generate" "$unchanged_wall" "$capgen_wall" "$(ratio "$unchanged_wall" "$capgen_wall")×"
printf '%-26s %14s %14s %8s\n' "check" "$check_wall" "$capgen_wall" "$(ratio "$check_wall" "$capgen_wall")×"

[ "$compile" = yes ] || exit 0

# Each output as a crate of its own (dependencies as generated code needs them), built once to warm the
# dependencies, then RUNS times after touching lib.rs.
crate() {
  local name=$1 out=$2 deps=$3
  local dir="$work/crate-$name"
  rm -rf "$dir" && mkdir -p "$dir/src"
  cat >"$dir/Cargo.toml" <<TOML
[workspace]
[package]
name = "bench-$name"
version = "0.0.0"
edition = "2024"
publish = false
[dependencies]
$deps
TOML
  cp "$repo/Cargo.lock" "$dir/Cargo.lock"
  "$baseline" lib-rs "$out" >"$dir/src/lib.rs"
  (cd "$dir" && cargo build -q --target-dir "$work/crate-target" 2>"$work/build.log") || {
    tail -40 "$work/build.log" >&2
    return 1
  }
  local times=()
  for _ in $(seq "$runs"); do
    touch "$dir/src/lib.rs"
    read -r wall _ < <(cd "$dir" && timed cargo build -q --target-dir "$work/crate-target")
    times+=("$wall")
    echo "  build $name: ${wall}s" >&2
  done
  printf -v "${name}_build" '%s' "$(printf '%s\n' "${times[@]}" | median)"
}
crate prost "$work/out-prost" 'prost = "0.14"
prost-types = "0.14"'
crate capgen "$work/out-capgen" "capacitor = { path = \"$repo/runtime\", default-features = false }
pbjson-types = \"0.9\"
prost = \"0.14\""
printf '%-26s %14s %14s %8s\n' "crate build, debug (s)" "$capgen_build" "$prost_build" "$(ratio "$capgen_build" "$prost_build")×"
