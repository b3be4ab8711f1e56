"""Case idle (e): idle CPU and RTT of ssw-router over af_packet/veth in each rx mode, in
network namespaces (sswlab), against the same two hosts on a direct veth pair."""

import statistics
import time

from sswlab.hosts import ping as sswlab_ping
from sswlab.netns import cpu_seconds

from ..common import BenchError, log, median
from ..machine import thread_cpu_seconds


def case_idle(b):
    # The router's namespace and two hosts: h1 -p0/eth0- r -p1/eth0- h2, h1 -d0/d0- h2, and
    # h1 -k0- kr -k1- h2 through a Linux router (kernel forwarding).
    r_ns, h1, h2, kr = b.lab.ns("r"), b.lab.ns("h1"), b.lab.ns("h2"), b.lab.ns("kr")
    topo = b.lab.topology()
    topo.veth(r_ns, "p0", h1, "eth0")
    topo.veth(r_ns, "p1", h2, "eth0")
    topo.veth(h1, "d0", h2, "d0")
    topo.veth(kr, "k0", h1, "k0")
    topo.veth(kr, "k1", h2, "k1")

    def host(ns, dev, addr, to, via):
        ns.run(["ip", "addr", "add", addr, "dev", dev])
        ns.run(["ip", "route", "add", to, "via", via])

    host(h1, "eth0", "192.0.2.10/24", "default", "192.0.2.1")
    host(h2, "eth0", "10.0.0.2/24", "default", "10.0.0.1")
    # The baseline: the same two hosts on one veth pair, no router.
    h1.run(["ip", "addr", "add", "203.0.113.1/30", "dev", "d0"])
    h2.run(["ip", "addr", "add", "203.0.113.2/30", "dev", "d0"])
    # The reference: the same hop through the kernel's forwarding.
    kr.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    kr.run(["ip", "addr", "add", "198.51.100.1/28", "dev", "k0"])
    kr.run(["ip", "addr", "add", "198.51.100.17/28", "dev", "k1"])
    host(h1, "k0", "198.51.100.2/28", "198.51.100.16/28", "198.51.100.1")
    host(h2, "k1", "198.51.100.18/28", "198.51.100.0/28", "198.51.100.17")
    conf = "address add 192.0.2.1/24 port 0\naddress add 10.0.0.1/24 port 1\n"
    count = 5 if b.a.quick else 50
    idle_window = 2.0 if b.a.quick else 30.0

    def ping(dst):
        r = sswlab_ping(h1, dst, count=count, interval=0.2, wait=2, timeout=count * 0.2 + 30)
        rtts = r.rtts_ms
        if len(rtts) < count // 2:
            raise BenchError(f"ping {dst}: {len(rtts)}/{count} replies\n{r.raw[-1500:]}")
        return {"rtt_median_ms": median(rtts), "rtt_mean_ms": statistics.fmean(rtts),
                "rtt_max_ms": max(rtts), "replies": len(rtts), "sent": count}

    direct = ping("203.0.113.2")
    b.add_sample("idle", "direct veth (no router)", dict(direct, mpps=None))
    kernel = ping("198.51.100.18")
    kernel["added_rtt_ms"] = kernel["rtt_median_ms"] - direct["rtt_median_ms"]
    b.add_sample("idle", "Linux router (kernel forwarding)", dict(kernel, mpps=None))
    modes = ["interrupt", "adaptive", "poll"]
    for rep in range(b.a.repeat):
        log(f"idle: repetition {rep + 1}/{b.a.repeat}")
        for mode in modes:
            proc = b.start_ssw(f"idle-{mode}", "1", [], conf, 4095, 256, ns=r_ns, ports=["p0", "p1"],
                               idle_sleep_us=500, extra=["--rx-mode", mode])
            try:
                ping("10.0.0.2")  # ARP both ways, then leave it alone
                time.sleep(1.0)
                th0 = thread_cpu_seconds(proc.pid)
                c0, t0 = cpu_seconds(proc.pid), time.monotonic()
                time.sleep(idle_window)
                c1, t1 = cpu_seconds(proc.pid), time.monotonic()
                th1 = thread_cpu_seconds(proc.pid)
                if c1 is None:
                    raise BenchError(f"ssw-router exited during the idle window:\n{proc.tail()}")
                sample = {"mpps": None, "idle_cpu_percent": 100.0 * (c1 - c0) / (t1 - t0)}
                # Which threads used it (the worker runs as the main thread, named ssw-router).
                busy = {k.split("/")[0]: 100.0 * (v - th0.get(k, 0)) / (t1 - t0) for k, v in th1.items()}
                sample["threads_percent"] = {k: round(v, 1) for k, v in
                                             sorted(busy.items(), key=lambda kv: -kv[1]) if v >= 0.5}
                sample.update(ping("10.0.0.2"))
                sample["added_rtt_ms"] = sample["rtt_median_ms"] - direct["rtt_median_ms"]
                b.add_sample("idle", f"rx-mode {mode}", sample)
                log(f"    idle CPU {sample['idle_cpu_percent']:.1f}%, RTT median "
                    f"{sample['rtt_median_ms']:.3f} ms (direct {direct['rtt_median_ms']:.3f} ms)")
            finally:
                b.lab.stop(proc)
