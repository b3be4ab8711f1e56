"""Case stages (f): (a)'s ssw variants with an ssw-router built with -Dstage_cycles=true,
cycles per packet by stage."""

from ..common import BenchError, log
from .fwd import run_fwd


def stage_cycles(s0, s1):
    """Cycles per packet by stage over a window, from two `show stats` replies (each holds
    cycles per received packet since the start, to 0.1, and the packets received)."""
    if not s0 or "stage_cycles_per_packet" not in s0:
        raise BenchError("show stats has no stage_cycles_per_packet: not a -Dstage_cycles=true build")
    rx0, rx1 = s0["counters"]["rx_packets"], s1["counters"]["rx_packets"]
    if rx1 <= rx0:
        raise BenchError("no packets received in the window")
    return {k: (s1["stage_cycles_per_packet"][k] * rx1 - v * rx0) / (rx1 - rx0)
            for k, v in s0["stage_cycles_per_packet"].items()}


def case_stages(b):
    variants = [v for v in ("ssw-route", "ssw-nat-1k", "ssw-nat-1m") if b.want(v)]
    for rep in range(b.a.repeat):
        log(f"stages: repetition {rep + 1}/{b.a.repeat}")
        for v in variants:
            sample = run_fwd(b, v, stages=True)
            sample["stages"] = stage_cycles(*sample.pop("snaps"))
            b.add_sample("stages", v, sample)
            log("    " + ", ".join(f"{k} {c:.1f}" for k, c in sample["stages"].items()))
