"""The machine: what it is (for the report's header) and what its CPUs did (/proc)."""

import datetime
import os
import subprocess
from pathlib import Path

from sswlab.netns import run

from .common import REPO, BenchError

CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_cpu_mhz():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1])
    raise BenchError("no 'cpu MHz' in /proc/cpuinfo")


def thread_cpu_seconds(pid):
    """{thread name: utime + stime in seconds} for every thread of a process."""
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            head, _, rest = (task / "stat").read_text().rpartition(")")
            name = head.split("(", 1)[1]
            f = rest.split()
            out[f"{name}/{task.name}"] = (int(f[11]) + int(f[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            pass
    return out


def host_busy_seconds():
    """CPU-seconds spent not idle by all CPUs since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / CLK_TCK


def _output(argv):
    """A command's standard output, stripped; "?" when it cannot run."""
    try:
        return run(argv, check=False, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine_info():
    info = {}
    out = _output(["lscpu"])
    for line in out.splitlines():
        k, _, v = line.partition(":")
        info[k.strip()] = v.strip()
    dirty = _output(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "--",
                     "dataplane", "control"])
    return {
        "model": info.get("Model name", "?"),
        "cpus": info.get("CPU(s)", "?"),
        "family": info.get("CPU family", "?"),
        "kernel": os.uname().release,
        "commit": _output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
        "dirty": bool(dirty),
        "dpdk": _output(["pkg-config", "--modversion", "libdpdk"]),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_mhz": read_cpu_mhz(),
        "loadavg_start": os.getloadavg(),
    }
