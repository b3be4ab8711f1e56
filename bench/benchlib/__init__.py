"""The modules of bench/run_bench.py (bench/README.md):

    common   constants of the benchmark topology, BenchError, log, small helpers
    machine  what the machine is and what its CPUs did (/proc)
    pcap     the frames the forwarders replay, and reading what they sent
    lab      the processes and namespaces of a run, on scripts/sswlab; DPDK telemetry
    bench    Bench: building, starting forwarders, measuring windows, the samples
    cases/   one module per case family; cases.FUNCTIONS maps a case's name to its function
    report   the Markdown report (bench/RESULTS.md) and the JSON samples

Importing it puts scripts/ on sys.path, for sswlab.
"""

import sys
from pathlib import Path

_SCRIPTS = str(Path(__file__).resolve().parent.parent.parent / "scripts")
if _SCRIPTS not in sys.path:
    sys.path.insert(0, _SCRIPTS)
