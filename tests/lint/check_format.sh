#!/usr/bin/env bash
# Every C++ file of the tree is as .clang-format lays it out. Prints the files that are not,
# with what clang-format would change; `clang-format -i FILE` fixes one.
set -euo pipefail
cd "${1:-.}"
mapfile -t files < <(find dataplane control tests bench -name '*.h' -o -name '*.cc' | sort)
bad=0
for f in "${files[@]}"; do
  if ! clang-format --style=file --dry-run --Werror "$f" 2>/dev/null; then
    echo "not formatted: $f"
    clang-format --style=file "$f" | diff -u "$f" - | head -20 || true
    bad=$((bad + 1))
  fi
done
echo "check_format: ${#files[@]} files, $bad not formatted"
[ "$bad" -eq 0 ]
