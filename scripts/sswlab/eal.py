"""What DPDK's EAL needs from the machine and leaves behind on it.

Memory: hugepages in a mounted hugetlbfs (without a mount the EAL fails outright, however
many pages are reserved), else `--no-huge`. Files: a primary process keeps a runtime
directory, /var/run/dpdk/PREFIX (as root; its config, multi-process and telemetry sockets),
and its hugepage files, PREFIXmap_N in a hugetlbfs mount, where PREFIX is its
--file-prefix. It keeps the hugepage files after it exits (for secondary processes such as
dpdk-dumpcap), and a process killed by a signal removes nothing: they stay taken until the
next process with the same --file-prefix. remove_eal_files removes them.
"""

import os
import shutil

RUNTIME_DIR = "/var/run/dpdk"


def hugetlbfs_mounts():
    """The mount points of the hugetlbfs file systems ([] if /proc/mounts cannot be read)."""
    try:
        with open("/proc/mounts") as f:
            return [line.split()[1] for line in f if line.split()[2] == "hugetlbfs"]
    except OSError:
        return []


def hugepages_available():
    """True when 2 MiB hugepages are reserved (128 free at least) and hugetlbfs is mounted."""
    try:
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            free = int(f.read())
    except OSError:
        return False
    return free >= 128 and bool(hugetlbfs_mounts())


def hugepages_free_mb():
    """Free hugepage memory the EAL can map, in MiB: HugePages_Free × Hugepagesize of
    /proc/meminfo, or 0 without a hugetlbfs mount."""
    if not hugetlbfs_mounts():
        return 0
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        free = int(info["HugePages_Free"].split()[0])
        size_kb = int(info["Hugepagesize"].split()[0])
        return free * size_kb // 1024
    except (OSError, KeyError, ValueError):
        return 0


def remove_eal_files(prefix, exact=False):
    """Removes the hugepage files and runtime directories of the EAL processes whose
    --file-prefix starts with `prefix` (exact: is `prefix`). Only for processes that have
    exited: a running one would lose its sockets and shared config."""
    for d in hugetlbfs_mounts():
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            if name.startswith((prefix + "map_") if exact else prefix):
                try:
                    os.unlink(os.path.join(d, name))
                except OSError:
                    pass
    try:
        names = os.listdir(RUNTIME_DIR)
    except OSError:
        return
    for name in names:
        if (name == prefix) if exact else name.startswith(prefix):
            shutil.rmtree(os.path.join(RUNTIME_DIR, name), ignore_errors=True)
