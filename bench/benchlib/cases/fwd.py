"""Case fwd (a): pcap -> forwarder -> null, one lcore; run_fwd also serves cases stages (f)
and scaling (d)."""

from ..common import ALT, ROUTER_CONF, log


def fwd_variants(b):
    # l3fwd-lpm-long: l3fwd replaying as many frames as ssw-nat-1m (the pcap PMD's cost
    # per frame grows with the file: its mbufs no longer stay in cache), its baseline.
    # ssw-route-adaptive: ssw-route in the default rx mode (docs/DESIGN.md §3.8), the others
    # poll; under a saturating stream the two must forward alike.
    v = ["testpmd-io", "l3fwd-lpm", "ssw-route", "ssw-route-adaptive", "ssw-nat-1k",
         "l3fwd-lpm-long", "ssw-nat-1m"]
    if b.a.alt_router:  # each ssw variant again right after it, with the other build
        v = [y for x in v for y in ([x, x + ALT] if x.startswith("ssw") else [x])]
    long_differs = b.a.nat_frames != b.a.frames and b.want("ssw-nat-1m")
    return [x for x in v if b.want(x.removesuffix(ALT))
            and (not x.startswith("l3fwd") or b.l3fwd)
            and (x != "l3fwd-lpm-long" or long_differs)]


def run_fwd(b, variant, lcores="1", queues=1, stages=False):
    """One forwarder, rx from pcap (infinite), tx to null. queues > 1: that many rx pcap
    files (rx queues) on port 0, of which the forwarder polls one per lcore. stages: ssw
    built with stage counters; the sample then holds the two `show stats` replies that
    frame the window, as "snaps" (stages.stage_cycles)."""
    router = b.stage_router if stages else None
    name = variant
    if variant.endswith(ALT):
        router, variant = b.a.alt_router, variant.removesuffix(ALT)
    nat_n = {"ssw-nat-1k": 1 << 10, "ssw-nat-1m": 1 << 20}.get(variant)
    long = (nat_n and nat_n > 4096) or variant == "l3fwd-lpm-long"
    frames = b.a.nat_frames if long else b.a.frames
    # One file per rx queue; with several, the frames are split among them.
    if nat_n:
        pcaps = [b.nat_pcap(nat_n, frames // queues, q) for q in range(queues)]
    else:
        pcaps = [b.route_pcap(frames // queues, q) for q in range(queues)]
    rx = "net_pcap0," + ",".join(f"rx_pcap={p}" for p in pcaps) + ",infinite_rx=1"
    vdevs = [rx, "net_null0,no-rx=1"]
    mbufs = b.mbufs_for(frames)
    mem_mb = mbufs * 2304 // (1 << 20) + (384 if nat_n else 256)
    extra = {}
    lcs = lcores.split(",")
    if variant == "testpmd-io":
        if len(lcs) == 1:
            lc = ["-l", f"0,{lcs[0]}", "--main-lcore", "0"]
        else:  # the main lcore (asleep) shares CPU 0 with forwarding lcore 1
            lc = ["--lcores", "0@0,1@0,2@1", "--main-lcore", "0"]
        n = len(lcs)
        proc, tel = b.start_testpmd("testpmd-io", lc, vdevs,
                                    ["--forward-mode=io", f"--nb-cores={n}",
                                     f"--rxq={n}", f"--txq={n}"], mbufs, mem_mb)
        procs, count = [proc], b.tel_count(tel, 1)
    elif variant in ("l3fwd-lpm", "l3fwd-lpm-long"):
        config = ",".join(f"({p},{q},{lcs[q]})" for p in (0, 1) for q in range(len(lcs)))
        proc, tel = b.start_l3fwd(variant, lcores, vdevs, config, mbufs, mem_mb)
        procs, count = [proc], b.tel_count(tel, 1)
    else:
        nat_extra = ["--nat-capacity", str(nat_n)] if nat_n else []
        # Polling: --idle-sleep-us 0 (pcap and null have no descriptor to sleep on, so this is
        # also what every build of ssw-router understands); adaptive: the defaults.
        adaptive = variant == "ssw-route-adaptive"
        proc = b.start_ssw(name, lcores, vdevs, ROUTER_CONF, mbufs, mem_mb, nat_extra, router=router,
                           idle_sleep_us=500 if adaptive else 0)
        ctl = proc.ctl
        b.check_pcap_mac(ctl)
        if nat_n:
            secs = b.load_bindings(proc, nat_n)
            extra["load_seconds"] = round(secs, 1)
            log(f"  {nat_n} bindings loaded with sswctl batch in {secs:.1f}s")
        procs, count = [proc], b.ssw_count(ctl)
    try:
        b.wait_flowing(variant, count, procs)
        snap = (lambda: ctl.ctl("show stats")) if stages else None
        sample = b.measure(count, procs, b.lab.procs, snap)
        if variant.startswith("ssw"):
            drops = b.ssw_drops(ctl)
            if drops:
                sample["drops"] = drops
            if nat_n:
                b.check_translated(ctl, pcaps[0])
        sample.update(extra)
        return sample
    finally:
        for p in procs:
            b.lab.stop(p)


def case_fwd(b):
    variants = fwd_variants(b)
    for rep in range(b.a.repeat):
        log(f"fwd: repetition {rep + 1}/{b.a.repeat}")
        for v in variants:
            b.add_sample("fwd", v, run_fwd(b, v))
