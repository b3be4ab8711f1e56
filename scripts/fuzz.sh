#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in build-fuzz, then
# runs each for SECONDS (default 60) from its committed corpus, printing how many inputs
# each ran. Exit status 1 when a target crashed or broke an invariant; the input is kept in
# build-fuzz/fuzz/artifacts/ (reproduce: build-fuzz/tests/fuzz/TARGET_fuzz FILE).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    TARGET: packet, command (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(packet command)
BUILD=${SSW_FUZZ_BUILD_DIR:-build-fuzz}

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not installed (scripts/install-deps.sh); skipped" >&2
  exit 77  # meson's SKIP
fi
if [ ! -f "$BUILD/build.ninja" ]; then
  # Coverage instrumentation (fuzzer-no-link) on every library, not only on the harness, so
  # that libFuzzer sees which branches of the router an input reached.
  CXX=clang++ meson setup "$BUILD" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dcpp_args=-fsanitize=fuzzer-no-link -Dwerror=false -Dbench=false
fi
ninja -C "$BUILD" $(printf 'tests/fuzz/%s_fuzz ' "${TARGETS[@]}")

WORK="$BUILD/fuzz"
mkdir -p "$WORK/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$WORK/corpus/$t"
  args=(-max_total_time="$SECS" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096
        -artifact_prefix="$WORK/artifacts/$t-")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  [ "$t" = packet ] && args+=(-max_len=4200)  # beyond two mbufs' data room: chained frames
  log="$WORK/$t.log"
  echo "fuzz.sh: $t for ${SECS}s (log: $log)"
  set +e
  "$BUILD/tests/fuzz/${t}_fuzz" "${args[@]}" "$WORK/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  if [ "$rc" -ne 0 ]; then
    status=1
    tail -n 80 "$log"
    summary+=("$(printf '%-8s CRASHED (exit %s) after %s execs; input: %s' "$t" "$rc" "${execs:-?}" \
      "$(ls -t "$WORK/artifacts/$t-"* 2>/dev/null | head -1 || true)")")
  else
    summary+=("$(printf '%-8s %6ss %12s execs  %6s coverage points' "$t" "$SECS" "${execs:-?}" "${cov:-?}")")
  fi
done
# The EAL's runtime directories of the fuzz processes (--file-prefix ssw-fuzz-*).
rm -rf /var/run/dpdk/ssw-fuzz-* "${XDG_RUNTIME_DIR:-/nonexistent}"/dpdk/ssw-fuzz-* 2>/dev/null || true
echo "fuzz.sh summary:"
printf '  %s\n' "${summary[@]}"
exit "$status"
