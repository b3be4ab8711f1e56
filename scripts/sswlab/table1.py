"""Table I of the paper (Section V) on a testbed (sswlab.testbed.Testbed, or
kernel_testbed.KernelTestbed): the ping RTT from E to VM C before the move, after it in
triangle mode (scenario ii) and in optimized mode (scenario iii), and the response time of
1 MB HTTP GETs at 10/s before and after the optimized move. scripts/demo_testbed.py prints it
beside the paper's figures, for C (a namespace) and for a real QEMU guest; bench case table1
compares the two back-ends."""

import statistics
from dataclasses import dataclass

from .hosts import HttpServer, ping
from .testbed import addr

PAPER = {"ping_home": 2.573, "ping_triangle": 3.192, "ping_optimized": 2.034,
         "web_home": 3.4, "web_optimized": 3.1}  # ms
LABELS = {"ping_home": "Ping: non migrated",
          "ping_triangle": "Ping: migrated (scenario ii, triangle)",
          "ping_optimized": "Ping: migrated (scenario iii, optimized)",
          "web_home": "Web: non migrated",
          "web_optimized": "Web: migrated, scenario iii"}
WEB_PORT, WEB_FILE, WEB_RATE = 8081, "web-1mb.bin", 10  # GETs per second
PING_INTERVAL = 0.1  # s

# A client for the web test: GETs at a fixed rate, each response timed to its last byte, one
# line of the times in ms ("x" for a GET that failed).
WEB_CLIENT = r"""
import http.client, sys, time
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rate, seconds = float(sys.argv[4]), float(sys.argv[5])
times, start, n = [], time.monotonic(), 0
while time.monotonic() - start < seconds:
    due = start + n / rate
    if due > time.monotonic():
        time.sleep(due - time.monotonic())
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(host, port, timeout=10)
        c.request("GET", path)
        body = c.getresponse().read()
        c.close()
        times.append(f"{(time.monotonic() - t0) * 1000:.3f}")
    except (OSError, http.client.HTTPException):
        times.append("x")
    n += 1
print(" ".join(times))
"""


@dataclass
class Row:
    """One measurement of Table I: a time in ms per reply (ping) or per GET, of `tried`."""
    ms: list
    tried: int

    @property
    def mean(self):
        return statistics.fmean(self.ms) if self.ms else None

    @property
    def p50(self):
        return statistics.median(self.ms) if self.ms else None


def web_server(tb):
    """C's web server for the test, the 1 MB file on WEB_PORT; stop() it when done."""
    return HttpServer(tb.hosts["C"], addr("C"), size=1 << 20, port=WEB_PORT, name=WEB_FILE)


def ping_row(tb, n, vm_addr):
    p = ping(tb.hosts["E"], vm_addr, count=n, interval=PING_INTERVAL, wait=2,
             timeout=n * PING_INTERVAL + 30)
    return Row(p.rtts_ms, p.sent or n)


def web_row(tb, seconds, vm_addr, port, path):
    res = tb.hosts["E"].run(["/usr/bin/python3", "-c", WEB_CLIENT, vm_addr, str(port), path,
                             str(WEB_RATE), str(seconds)],
                            check=False, timeout=seconds + 60)
    got = res.stdout.split()
    return Row([float(t) for t in got if t != "x"], len(got))


def measure(tb, pings, web_seconds, warmup_pings=0, vm="C", web=(WEB_PORT, f"/{WEB_FILE}"),
            move=None):
    """Table I with VM vm at home and its 1 MB at web (port, path): returns ({key of LABELS:
    Row}, [(which move, the move's result)]). vm is home again at the end. warmup_pings: pings
    before each RTT measurement, not counted (the first one after a move waits for ARP).
    move(seg, mode): how vm moves (default tb.move; a real guest is live-migrated, and a mere
    change of mode in the same subnet is a move of the record only)."""
    rows, moves = {}, []
    vm_addr = addr(vm) if vm in tb.hosts else tb.guests[vm].ip.split("/")[0]
    move_vm = move or (lambda seg, mode: tb.move(vm, seg, mode))

    def rtt(key):
        if warmup_pings:
            ping_row(tb, warmup_pings, vm_addr)
        rows[key] = ping_row(tb, pings, vm_addr)

    def moved(what, seg, mode="optimized"):
        moves.append((what, move_vm(seg, mode)))

    rtt("ping_home")
    rows["web_home"] = web_row(tb, web_seconds, vm_addr, *web)
    moved("home -> foreign, triangle", "foreign", "triangle")
    rtt("ping_triangle")
    moved("triangle -> optimized", "foreign")
    rtt("ping_optimized")
    rows["web_optimized"] = web_row(tb, web_seconds, vm_addr, *web)
    moved("return home", "home")
    return rows, moves
