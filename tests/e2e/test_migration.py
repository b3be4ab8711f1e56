"""End to end: transparent VM migration across R1-R4 (scripts/sswlab/testbed.py).

All eight communication cases of the paper's Figure 3, with ping and HTTP, in optimized and
triangle mode; transparency checked from captures; a TCP transfer and 10 ms pings across a
move; return home and foreign-to-foreign moves; a move to a router that is down rolls back;
reconcile repairs a restarted router.
"""

import os
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.hosts import HttpServer, http_get, interruption_ms, ping  # noqa: E402
from sswlab.netns import run  # noqa: E402
from sswlab.testbed import HOSTS, Testbed, addr  # noqa: E402

CASES = [  # (case, source, destination): C and V are the moved VMs
    ("1 C* to E", "C", "E"),
    ("2 E to C*", "E", "C"),
    ("3 C* to D", "C", "D"),
    ("4 D to C*", "D", "C"),
    ("5 C* to B", "C", "B"),
    ("6 B to C*", "B", "C"),
    ("7 C* to V* (same foreign segment)", "C", "V"),
]
CASE_8 = [("8 C* to V** (another foreign subnet)", "C", "V"), ("8 V** to C*", "V", "C")]


def read_pcap_lines(path):
    res = run(["tcpdump", "-r", path, "-n", "-q"], check=False)
    return res.stdout.splitlines()


class MigrationTest(unittest.TestCase):
    @classmethod
    def make_testbed(cls):
        return Testbed()

    @classmethod
    def setUpClass(cls):
        cls.tb = cls.make_testbed()
        try:
            cls.servers = {h: HttpServer(cls.tb.hosts[h], addr(h), size=256 * 1024, port=8080)
                           for h in HOSTS}
        except Exception:
            cls.tb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            for s in cls.servers.values():
                s.stop()
            assert cls.tb.stop_routers(), "a router did not exit cleanly after SIGTERM"
        finally:
            cls.tb.close()

    def setUp(self):
        # Every test starts with both VMs at home.
        for vm in ("C", "V"):
            if self.tb.segment_of[vm] != "home" or self.tb.where(vm)["data"]["location"] != "home":
                self.tb.move(vm, "home")

    def check_case(self, case, src, dst):
        h = self.tb.hosts
        r = ping(h[src], addr(dst), count=3, interval=0.05, wait=2)
        self.assertEqual(r.loss, 0, f"case {case}: ping lost\n{r.raw}")
        # ping accepts a reply from any source: a broken translation would pass unnoticed.
        self.assertEqual(r.reply_sources, {addr(dst)}, f"case {case}: replies from {r.reply_sources}")
        srv = self.servers[dst]
        digest, _ = http_get(h[src], f"http://{addr(dst)}:8080/{srv.name}", timeout=20)
        self.assertEqual(digest, srv.sha256, f"case {case}: HTTP content differs")

    def run_all_cases(self, mode):
        self.tb.move("C", "foreign", mode)
        self.tb.move("V", "foreign", mode)
        for case, src, dst in CASES:
            self.check_case(case, src, dst)
        self.tb.move("V", "foreign2", mode)
        for case, src, dst in CASE_8:
            self.check_case(case, src, dst)

    def test_eight_cases_optimized(self):
        self.run_all_cases("optimized")

    def test_eight_cases_triangle(self):
        self.run_all_cases("triangle")

    def test_return_home_and_foreign_to_foreign_keep_all_cases(self):
        self.tb.move("C", "foreign")
        self.tb.move("C", "foreign2")  # foreign -> foreign
        for case, src, dst in CASES[:4]:
            self.check_case(case.replace("C*", "C**"), src, dst)
        self.check_case("C** to G (native host there)", "C", "G")
        self.tb.move("C", "home")
        for src, dst in (("C", "E"), ("E", "C"), ("C", "D"), ("D", "C"), ("B", "C")):
            self.check_case(f"{src} to {dst} after return", src, dst)
        where = self.tb.where("C")["data"]
        self.assertEqual(where["location"], "home")
        self.assertEqual(where["care_of"], "")
        self.assert_no_router_holds("C")

    def assert_no_router_holds(self, vm):
        """No router holds a binding of vm (as `where` reads them)."""
        for row in self.tb.where(vm)["data"]["routers"]:
            self.assertEqual(row["holds"], "-", f"{row['router']} still holds a binding after return")

    def test_transparency_optimized(self):
        out_c = self.tb.move("C", "foreign")
        out_v = self.tb.move("V", "foreign2")
        care_ofs = {out_c["data"]["care_of"], out_v["data"]["care_of"]}
        homes = {addr("C"), addr("V")}
        caps = {}
        for h in ("E", "B", "D", "G", "C", "V"):
            caps[("host", h)] = self.tb.capture(self.tb.hosts[h], "eth0", f"host-{h}")
        core = {"r1": ("p1", "p2", "p3"), "r2": ("p0",), "r3": ("p0",), "r4": ("p0",)}
        for r, ifs in core.items():
            for i in ifs:
                caps[("core", f"{r}/{i}")] = self.tb.capture(self.tb.router_ns[r.upper()], i, f"core-{r}-{i}")
        time.sleep(1)
        for case, src, dst in CASES[:6] + [("C to V**", "C", "V"), ("V** to C", "V", "C")]:
            self.check_case(case, src, dst)
        time.sleep(0.5)
        for proc, _ in caps.values():
            proc.terminate()
            proc.wait(timeout=5)
        core_packets = 0
        for (kind, where), (_, path) in caps.items():
            lines = read_pcap_lines(path)
            for line in lines:
                addrs = set(re.findall(r"(\d+\.\d+\.\d+\.\d+)", line))
                if kind == "host":
                    self.assertFalse(addrs & care_ofs, f"host {where} saw a care-of address: {line}")
                else:
                    core_packets += 1
                    self.assertFalse(addrs & homes, f"core link {where} carried a home address: {line}")
        self.assertGreater(core_packets, 100, "the core captures saw no traffic")

    def test_triangle_routes_through_home_router(self):
        out = self.tb.move("C", "foreign", "triangle")
        care_of = out["data"]["care_of"]
        # R3's side of the R1-R3 link receives E's packets for M; R1's side receives them back
        # translated to M*, on their way to R2.
        at_r3 = self.tb.capture(self.tb.router_ns["R3"], "p0", "tri-r3")
        at_r1 = self.tb.capture(self.tb.router_ns["R1"], "p2", "tri-r1")
        time.sleep(1)
        self.check_case("2 E to C* (triangle)", "E", "C")
        time.sleep(0.5)
        for proc, _ in (at_r3, at_r1):
            proc.terminate()
            proc.wait(timeout=5)
        r3_lines = read_pcap_lines(at_r3[1])
        r1_lines = read_pcap_lines(at_r1[1])
        self.assertTrue(any(f"{addr('E')} > {addr('C')}" in l for l in r3_lines), "E->M did not reach R3")
        self.assertTrue(any(f"{addr('E')} > {care_of}" in l for l in r1_lines), "R3 did not send E->M* back")

    def test_tcp_and_ping_across_the_move(self):
        h = self.tb.hosts
        big = HttpServer(h["C"], addr("C"), size=16 * 1024 * 1024, port=8090)
        result = {}

        def download():
            res = h["E"].run(["curl", "-sS", "--limit-rate", "4M", "-o", "/dev/null", "-w",
                              "%{http_code} %{size_download}", f"http://{addr('C')}:8090/{big.name}"],
                             check=False, timeout=60)
            result["curl"] = (res.returncode, res.stdout, res.stderr)

        def pinger(src, dst, key):
            res = h[src].run(["ping", "-n", "-i", "0.01", "-c", "500", "-W", "1", addr(dst)],
                             check=False, timeout=30)
            result[key] = res.stdout

        threads = [threading.Thread(target=download),
                   threading.Thread(target=pinger, args=("E", "C", "E->C")),
                   threading.Thread(target=pinger, args=("C", "E", "C->E")),
                   threading.Thread(target=pinger, args=("C", "D", "C->D"))]
        for t in threads:
            t.start()
        time.sleep(1.5)
        self.tb.move("C", "foreign")
        for t in threads:
            t.join()
        code, out, err = result["curl"]
        self.assertEqual(code, 0, f"the transfer across the move failed: {err}")
        self.assertEqual(out, f"200 {16 * 1024 * 1024}")
        report = {k: interruption_ms(result[k], 10) for k in ("E->C", "C->E", "C->D")}
        for k in ("E->C", "C->E", "C->D"):
            tail = re.findall(r"icmp_seq=(\d+) ttl", result[k])[-50:]
            self.assertEqual(len(tail), 50, f"{k}: pings not answered after the move")
        # The return home, measured the same way.
        threads = [threading.Thread(target=pinger, args=("E", "C", "ret E->C")),
                   threading.Thread(target=pinger, args=("C", "E", "ret C->E")),
                   threading.Thread(target=pinger, args=("C", "D", "ret C->D")),
                   threading.Thread(target=pinger, args=("D", "C", "ret D->C"))]
        for t in threads:
            t.start()
        time.sleep(1.5)
        self.tb.move("C", "home")
        for t in threads:
            t.join()
        for k in ("ret E->C", "ret C->E", "ret C->D", "ret D->C"):
            report[k] = interruption_ms(result[k], 10)
        big.stop()
        print("\nINTERRUPTION (ms, first lost to first answered, pings every 10 ms): " +
              ", ".join(f"{k} {v}" for k, v in report.items()), flush=True)

    def test_move_to_a_router_that_is_down_rolls_back(self):
        self.tb.move("C", "foreign")
        before = {r: self.tb.routers[r].ctl("show nat") for r in self.tb.routers}
        before_proxy = {r: self.tb.routers[r].ctl("show proxy-arp") for r in self.tb.routers}
        r4 = self.tb.routers["R4"]
        r4.kill()
        out = self.tb.orchestrate("migrate", "C", "--to", "foreign2")
        self.assertFalse(out["ok"])
        self.assertIn("R4", out["error"])
        for r in ("R1", "R2", "R3"):
            self.assertEqual([(x["home"], x["care_of"], x["type"]) for x in self.tb.routers[r].ctl("show nat")],
                             [(x["home"], x["care_of"], x["type"]) for x in before[r]], f"{r} changed")
            self.assertEqual(self.tb.routers[r].ctl("show proxy-arp"), before_proxy[r])
        self.assertEqual(self.tb.where("C")["data"]["location"], "foreign")
        self.check_case("2 E to C* after the refused move", "E", "C")
        # The restarted router comes back with only its startup configuration.
        r4.start()
        self.assertEqual(r4.ctl("show nat"), [])
        out = self.tb.orchestrate("reconcile")
        self.assertTrue(out["ok"], out)
        self.assertIn("R4: repaired", " ".join(out["log"]))
        self.assertEqual([x["home"] for x in r4.ctl("show nat")], [addr("C")])
        self.check_case("8 G to C* through the repaired R4", "G", "C")

    def test_reconcile_repairs_a_restarted_edge_router(self):
        self.tb.move("C", "foreign")
        r1 = self.tb.routers["R1"]
        r1.kill()
        r1.start()
        self.assertEqual(r1.ctl("show nat"), [])
        self.assertIn("R1", " ".join(self.tb.orchestrate("reconcile", "--dry-run")["log"]))
        out = self.tb.orchestrate("reconcile")
        self.assertTrue(out["ok"], out)
        self.check_case("2 E to C* after reconcile", "E", "C")
        self.assertTrue(all("in sync" in l for l in self.tb.orchestrate("reconcile")["log"]))

    def test_repeated_move_is_harmless_and_dry_run_changes_nothing(self):
        dry = self.tb.orchestrate("migrate", "C", "--to", "foreign", "--dry-run")
        self.assertTrue(dry["ok"])
        self.assertIn("nat add 192.168.11.3", " ".join(dry["log"]))
        self.assertEqual(self.tb.routers["R1"].ctl("show nat"), [])
        first = self.tb.move("C", "foreign")
        second = self.tb.orchestrate("migrate", "C", "--to", "foreign")
        self.assertTrue(second["ok"])
        self.assertEqual(second["data"]["epoch"], first["data"]["epoch"])
        self.assertEqual(second["data"]["care_of"], first["data"]["care_of"])
        self.assertTrue(all(not cmds for cmds in second["data"]["routers"].values()), second)
        self.check_case("2 E to C* after a repeated move", "E", "C")


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
