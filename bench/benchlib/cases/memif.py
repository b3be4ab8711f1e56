"""Case memif (b): testpmd txonly -> memif -> forwarder -> null, or -> memif -> testpmd
rxonly."""

import time

from ..common import MEMIF_FWD_MAC, ROUTE_DST_NET, ROUTER_CONF, SRC_IP, ip_str, log
from ..lab import wait_for


def run_memif(b, fwd, sink):
    a_sock = b.wd / f"memif-{fwd}-{sink}-a.sock"
    b_sock = b.wd / f"memif-{fwd}-{sink}-b.sock"
    for s in (a_sock, b_sock):
        s.unlink(missing_ok=True)
    a_server = f"net_memif0,role=server,id=0,socket={a_sock},socket-abstract=no,mac={MEMIF_FWD_MAC}"
    egress = ("net_null0,no-rx=1" if sink == "null" else
              f"net_memif1,role=server,id=0,socket={b_sock},socket-abstract=no,rsize=14,mac=02:00:00:00:aa:02")
    vdevs = [a_server, egress]
    mbufs = 32767
    mem_mb = 512
    procs = []
    try:
        if fwd == "testpmd-macswap":
            p, tel = b.start_testpmd("fwd-macswap", ["-l", "0,1", "--main-lcore", "0"], vdevs,
                                     ["--forward-mode=macswap", "--nb-cores=1"], mbufs, mem_mb)
            procs.append(p)
            count = b.tel_count(tel, 1)
            wait_for("macswap's memif socket", a_sock.exists, 60, [p])
        elif fwd == "l3fwd-lpm":
            p, tel = b.start_l3fwd("fwd-l3fwd", "1", vdevs, "(0,0,1),(1,0,1)", mbufs, mem_mb)
            procs.append(p)
            count = b.tel_count(tel, 1)
            wait_for("l3fwd's memif socket", a_sock.exists, 60, [p])
        else:
            p = b.start_ssw("fwd-ssw", "1", vdevs, ROUTER_CONF, mbufs, mem_mb)
            procs.append(p)
            ctl = p.ctl
            count = b.ssw_count(ctl)
        sink_count = None
        if sink == "testpmd":
            wait_for("the egress memif socket", b_sock.exists, 60, procs)
            sp, stel = b.start_testpmd(
                "sink-rxonly", ["--lcores", "0@0,1@0", "--main-lcore", "0"],
                [f"net_memif0,role=client,id=0,socket={b_sock},socket-abstract=no,rsize=14,mac=02:00:00:00:bb:02"],
                ["--forward-mode=rxonly", "--nb-cores=1"], 16383, 256)
            procs.append(sp)
            sink_count = b.tel_count(stel, 0, "ipackets")
        gp, gtel = b.start_testpmd(
            "gen-txonly", ["--lcores", "0@0,1@0", "--main-lcore", "0"],
            [f"net_memif0,role=client,id=0,socket={a_sock},socket-abstract=no,mac=02:00:00:00:bb:01"],
            ["--forward-mode=txonly", "--nb-cores=1", f"--eth-peer=0,{MEMIF_FWD_MAC}",
             f"--tx-ip={SRC_IP},{ip_str(ROUTE_DST_NET + 1)}", "--txpkts=60"], 16383, 256)
        procs.append(gp)
        gen_count = b.tel_count(gtel, 0)
        b.wait_flowing(fwd, count, procs)
        # One window, three counters: forwarded, offered by the generator, received by the sink.
        extra_counts = {"gen": gen_count}
        if sink_count:
            extra_counts["sink"] = sink_count
        before = {k: f() for k, f in extra_counts.items()}
        t0 = time.monotonic()
        sample = b.measure(count, [procs[0]], b.lab.procs)
        dt = time.monotonic() - t0
        for k, f in extra_counts.items():
            # Over the warm-up and the window: a little longer than the forwarder's window.
            sample[f"{k}_mpps"] = (f() - before[k]) / dt / 1e6
        if fwd == "ssw":
            drops = b.ssw_drops(ctl)
            if drops:
                sample["drops"] = drops
        return sample
    finally:
        for p in reversed(procs):
            b.lab.stop(p)


def case_memif(b):
    fwds = [f for f in ["testpmd-macswap", "l3fwd-lpm", "ssw"]
            if b.want(f) and (f != "l3fwd-lpm" or b.l3fwd)]
    sinks = ["null", "testpmd"] if not b.a.quick else ["null"]
    for rep in range(b.a.repeat):
        log(f"memif: repetition {rep + 1}/{b.a.repeat}")
        for sink in sinks:
            for f in fwds:
                b.add_sample("memif", f"{f} -> {sink}", run_memif(b, f, sink))
