"""Case scaling (d): one worker against two (`-l 1` vs `-l 0,1`), port 0 with two rx queues."""

from ..common import log
from .fwd import run_fwd


def case_scaling(b):
    variants = [v for v in ["testpmd-io", "l3fwd-lpm", "ssw-route", "ssw-nat-1k"]
                if b.want(v) and (v != "l3fwd-lpm" or b.l3fwd)]
    for rep in range(b.a.repeat):
        log(f"scaling: repetition {rep + 1}/{b.a.repeat}")
        for v in variants:
            # The same two-queue port for both: one worker polls one queue (one file).
            b.add_sample("scaling", f"{v} x1", run_fwd(b, v, lcores="1", queues=2))
            b.add_sample("scaling", f"{v} x2", run_fwd(b, v, lcores="0,1", queues=2))
