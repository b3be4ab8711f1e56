#!/usr/bin/env bash
# Installs every Debian package ssw needs to build, test, benchmark and run its testbed.
# Idempotent: installs only what is missing. Debian 12 (bookworm), as root.
set -euo pipefail

PACKAGES=(
  # build
  g++ meson ninja-build pkg-config
  dpdk dpdk-dev libdpdk-dev dpdk-doc
  libboost-program-options-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # the distributed control plane: etcd, its gRPC client (stubs from etcd's own .proto
  # files), Prometheus metrics (control/etcd, control/agent)
  etcd-server etcd-client golang-etcd-server-dev
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev prometheus-cpp-dev
  openssl prometheus
  clang libclang-rt-14-dev clang-format
  # tests, testbed and benchmarks
  iproute2 iputils-ping iputils-arping traceroute ethtool curl iperf3 tcpdump
  nftables  # the testbed's Linux reference routers (scripts/sswlab/kernel_testbed.py)
  # real guests (scripts/sswlab/guest.py): QEMU under TCG; the guest's initramfs is the
  # host's static busybox, its kernel a Debian package fetched with apt-get download
  qemu-system-x86 busybox-static
  python3 python3-scapy procps psmisc
  # profiling: bench/cycle_split.py
  linux-perf
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
