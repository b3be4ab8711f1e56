#!/usr/bin/env bash
# Reserves 2 MiB hugepages (default 1024 = 2 GiB, enough for four routers) and mounts
# hugetlbfs. Idempotent. Where hugepages cannot be had, ssw still runs: the tests and the
# testbed fall back to `--no-huge -m 256 --no-shconf` (without dpdk-dumpcap support).
set -uo pipefail

want=${SSW_HUGEPAGES:-1024}
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ ! -w "$nr" ]; then
  echo "setup-hugepages: $nr not writable; using --no-huge" >&2
  exit 0
fi
have=$(cat "$nr")
if [ "$have" -lt "$want" ]; then
  echo "$want" > "$nr" 2>/dev/null || true
  have=$(cat "$nr")
fi
if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
  mkdir -p /dev/hugepages
  mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
fi
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
if grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts && [ "$free" -ge 128 ]; then
  echo "setup-hugepages: $have reserved, $free free, mounted on /dev/hugepages"
else
  echo "setup-hugepages: hugepages unavailable ($have reserved, $free free); using --no-huge" >&2
fi
exit 0
