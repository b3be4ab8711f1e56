"""End to end: the Linux reference back-end of the testbed (scripts/sswlab/kernel_testbed.py),
the baseline bench case table1 measures ssw against, keeps the rule semantics of
docs/DESIGN.md §2: test_migration's checks that need no ssw (the eight cases in both modes,
a return home and a foreign-to-foreign move, transparency in captures, triangle routing, a
TCP transfer across a move) on Linux routers, and correct TCP checksums after nftables
rewrites the addresses.

Not in meson's suites (it tests no code of ssw's); by hand, as root:

    /usr/bin/python3 tests/e2e/test_kernel_testbed.py
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

import test_migration  # noqa: E402  (its class, not its name: unittest would run it here too)
from sswlab import require_root  # noqa: E402
from sswlab.hosts import http_get  # noqa: E402
from sswlab.kernel_testbed import KernelTestbed  # noqa: E402
from sswlab.netns import run  # noqa: E402
from sswlab.testbed import addr  # noqa: E402

SSW_ONLY = "needs ssw's orchestrator or router processes"


class KernelMigrationTest(test_migration.MigrationTest):
    @classmethod
    def make_testbed(cls):
        return KernelTestbed(tag="kt")

    @unittest.skip(SSW_ONLY)
    def test_move_to_a_router_that_is_down_rolls_back(self):
        pass

    @unittest.skip(SSW_ONLY)
    def test_reconcile_repairs_a_restarted_edge_router(self):
        pass

    @unittest.skip(SSW_ONLY)
    def test_repeated_move_is_harmless_and_dry_run_changes_nothing(self):
        pass

    def test_tcp_checksums_after_rewrites(self):
        """nft fixes TCP's checksum through the pseudo-header: tcpdump finds every segment
        at the hosts correct (all veths send without checksum offload)."""
        for mode in ("triangle", "optimized"):
            self.tb.move("C", "foreign", mode)
            caps = [self.tb.capture(self.tb.hosts[h], "eth0", f"sum-{mode}-{h}") for h in "ECD"]
            time.sleep(0.5)
            for src, dst in (("E", "C"), ("C", "E"), ("D", "C"), ("C", "D")):
                srv = self.servers[dst]
                digest, _ = http_get(self.tb.hosts[src], f"http://{addr(dst)}:8080/{srv.name}")
                self.assertEqual(digest, srv.sha256, f"{mode}: {src} to {dst}")
            time.sleep(0.3)
            for proc, path in caps:
                proc.terminate()
                proc.wait(timeout=5)
                out = run(["tcpdump", "-r", path, "-n", "-vv", "tcp"], check=False).stdout
                self.assertGreater(out.count("(correct)"), 100, f"{mode}: {path}")
                self.assertNotIn("incorrect", out, f"{mode}: {path}")


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
