"""A lab of network namespaces, ssw-router processes and Linux hosts, shared by the
end-to-end tests, the demos, the testbed and the benchmark driver (bench/run_bench.py)."""

import os
import sys


def require_root():
    """End-to-end runs need root (namespaces, veth). Without it, exit 77: meson's SKIP."""
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces)", file=sys.stderr)
        sys.exit(77)
