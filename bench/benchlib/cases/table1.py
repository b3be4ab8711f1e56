"""Case table1 (g): the paper's Table I (sswlab.table1) on the testbed of R1-R4, with four
ssw-router processes (sswlab.testbed) and with Linux's forwarding in the same namespaces
(sswlab.kernel_testbed), in alternate rounds, each on a fresh testbed; ssw's times over
Linux's, per round."""

from sswlab import table1
from sswlab.kernel_testbed import KernelTestbed
from sswlab.testbed import Testbed

from ..common import BenchError, log

BACKENDS = ("ssw", "linux")
# --table1-polled-path adds this one: ssw with the routers of C's home path (R1, R3) polling,
# each on a vCPU of its own, and R2, R4 in interrupt mode. Four routers share two vCPUs, so
# it is no way to run them; it measures how close ssw gets when no worker ever sleeps on the
# path: the floor of the ratio on this machine, for the row "non migrated".
POLLED = "ssw-polled-path"
POLLED_LCORES = {"R1": "1", "R2": "0", "R3": "0", "R4": "1"}
POLLED_ARGS = {"R1": ["--rx-mode", "poll"], "R3": ["--rx-mode", "poll"],
               "R2": ["--rx-mode", "interrupt"], "R4": ["--rx-mode", "interrupt"]}
# Tags of the testbeds' namespaces: apart from the tests' and the demo's ("tb", "kb").
TAGS = {"ssw": "bs", "linux": "bk", POLLED: "bp"}


def backends(b):
    return BACKENDS + ((POLLED,) if b.a.table1_polled_path else ())


def variant(backend, key):
    return f"{backend} {key}"


def open_testbed(b, backend):
    if backend == "ssw":
        return Testbed(router_args=b.a.router_args, tag=TAGS[backend], router_bin=str(b.router))
    if backend == POLLED:
        return Testbed(router_args=b.a.router_args, tag=TAGS[backend], router_bin=str(b.router),
                       lcores=POLLED_LCORES, args_of=POLLED_ARGS)
    return KernelTestbed(tag=TAGS[backend])


def measure(b, backend):
    """Table I once on a new testbed of `backend`: sswlab.table1.measure's rows and moves."""
    tb = open_testbed(b, backend)
    try:
        web = table1.web_server(tb)
        every = table1.PING_INTERVAL
        result = table1.measure(tb, max(1, round(b.a.duration / every)), b.a.duration,
                                warmup_pings=round(b.a.warmup / every))
        web.stop()
        if not tb.stop_routers():
            raise BenchError(f"{backend}: a router did not exit cleanly")
        return result
    finally:
        tb.close()


def run_round(b, backend):
    """Adds a sample per row of Table I and one of the moves' times."""
    try:
        rows, moves = measure(b, backend)
    except (RuntimeError, AssertionError) as e:  # a move, a wait or the web server failed
        raise BenchError(f"{backend}: {e}") from e
    for key, row in rows.items():
        if not row.ms or len(row.ms) < row.tried / 2:
            raise BenchError(f"{backend} {key}: {len(row.ms)} of {row.tried} answered")
        b.add_sample("table1", variant(backend, key),
                     {"mpps": None, "ms": row.mean, "p50_ms": row.p50, "answered": len(row.ms),
                      "tried": row.tried})
    moves_ms = {what: out["elapsed_ms"] for what, out in moves}
    b.add_sample("table1", variant(backend, "moves"), {"mpps": None, "moves_ms": moves_ms})
    log("    " + ", ".join(f"{what} {ms:.1f} ms" for what, ms in moves_ms.items()))


def case_table1(b):
    for rnd in range(b.a.rounds):
        log(f"table1: round {rnd + 1}/{b.a.rounds}")
        for backend in backends(b):
            run_round(b, backend)
