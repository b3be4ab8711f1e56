"""End to end: the distributed control plane (docs/DESIGN.md §6.2). The testbed's four routers,
each with its ssw-agent, and a real 3-member etcd cluster started by the test (tmpfs data,
loopback ports it picks); sswctl talks to etcd only.

test_migration's checks run unchanged on it (the eight cases of Figure 3 in both modes, a
return home and a foreign-to-foreign move, transparency, triangle routing, TCP across a move),
and then what only the etcd control plane does: a move that needs a router whose agent is
gone is refused with nothing changed while moves that do not need it proceed; a restarted
router is repaired by its agent without any command; two movers of one VM, one wins; a mover
killed between phases, its move finished by --resume; a repeated move changes nothing.
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

import test_migration  # noqa: E402  (its class, not its name: unittest would run it here too)
from sswlab import require_root  # noqa: E402
from sswlab import router as sswrouter  # noqa: E402
from sswlab.hosts import arping  # noqa: E402
from sswlab.etcd import Agent, free_ports  # noqa: E402
from sswlab.netns import wait_until  # noqa: E402
from sswlab.testbed import Testbed, addr  # noqa: E402

LEASE_TTL = 2  # s: an agent's status outlives it by this much
PROMETHEUS = "/usr/bin/prometheus"


def nat(router):
    return sorted((x["home"], x["care_of"], x["type"], x["epoch"]) for x in router.ctl("show nat"))


class EtcdMigrationTest(test_migration.MigrationTest):
    @classmethod
    def make_testbed(cls):
        return Testbed(tag="et", control="etcd", etcd_members=3,
                       agent_args=["--lease-ttl", str(LEASE_TTL), "--resync-interval", "5000"])

    def setUp(self):
        # Every agent alive and every router in line before a test.
        for name, a in self.tb.agents.items():
            if a.proc is None:
                a.start()
        self.tb.wait_agents_in_sync()
        super().setUp()

    def sswctl(self, *args):
        return self.tb.orchestrate(*args)

    def assert_no_router_holds(self, vm):
        """sswctl reads etcd only: `where` gives what each router must hold, and the routers
        themselves what they do."""
        for row in self.tb.where(vm)["data"]["routers"]:
            self.assertEqual(row["expected"], "-", row)
        for name, r in self.tb.routers.items():
            self.assertNotIn(addr(vm), [x[0] for x in nat(r)], f"{name} still holds {vm}")

    def test_move_to_a_router_that_is_down_rolls_back(self):
        """Here: a move that needs a router whose agent is gone is refused, nothing changed;
        one that does not need it goes ahead; the agent back, its router converges."""
        self.tb.move("C", "foreign")
        before = {r: nat(self.tb.routers[r]) for r in self.tb.routers}
        self.tb.agents["R4"].kill()
        wait_until(lambda: "none" in json.dumps(self.sswctl("agents")["data"]),
                   timeout=LEASE_TTL + 5, what="R4's status to expire")
        out = self.sswctl("migrate", "C", "--to", "foreign2")
        self.assertFalse(out["ok"])
        self.assertIn("router R4 has no live agent", out["error"])
        self.assertIn("nothing changed", out["error"])
        self.assertEqual({r: nat(self.tb.routers[r]) for r in self.tb.routers}, before)
        self.assertEqual(self.tb.where("C")["data"]["location"], "foreign")
        self.assertEqual(self.tb.where("C")["data"]["phase"], "done")
        # A triangle move of V needs R2 and R3 only.
        self.tb.move("V", "foreign", "triangle")
        self.check_case("6 B to V* without R4's agent", "B", "V")
        # In optimized mode V needs R4 too.
        out = self.sswctl("migrate", "V", "--to", "foreign", "--mode", "optimized")
        self.assertFalse(out["ok"], out)
        self.assertIn("router R4 has no live agent", out["error"])
        self.assertEqual(self.tb.where("V")["data"]["mode"], "triangle")
        # The agent comes back: R4 holds C's binding, and a move through it works.
        self.tb.agents["R4"].start()
        self.tb.wait_agents_in_sync(["R4"])
        self.assertEqual([x[0] for x in nat(self.tb.routers["R4"])], [addr("C")])
        self.tb.move("C", "foreign2")
        self.check_case("8 E to C** through etcd", "E", "C")

    def test_reconcile_repairs_a_restarted_edge_router(self):
        """Here the agent repairs it, unasked: the router's socket closes, the agent reads it
        again when it is back and applies the difference. reconcile then finds all in sync."""
        self.tb.move("C", "foreign")
        r1 = self.tb.routers["R1"]
        want = nat(r1)
        r1.kill()
        r1.start()
        wait_until(lambda: nat(r1) == want, timeout=15, what="R1 repaired by its agent")
        self.check_case("2 E to C* after R1's restart", "E", "C")
        out = self.sswctl("reconcile")
        self.assertTrue(out["ok"], out)
        self.assertTrue(all(r["agent"] == "in sync" for r in out["data"]["routers"]), out)

    def test_repeated_move_is_harmless_and_dry_run_changes_nothing(self):
        dry = self.tb.sswctl("migrate", "C", "--to", "foreign", "--dry-run")
        self.assertEqual(dry.returncode, 2)  # refused before anything is read or written
        self.assertIn("--dry-run is for the local orchestrator", dry.stderr)
        first = self.tb.move("C", "foreign")
        rev = self.tb.where("C")["data"]["revision"]
        second = self.sswctl("migrate", "C", "--to", "foreign")
        self.assertTrue(second["ok"], second)
        self.assertEqual(second["data"]["epoch"], first["data"]["epoch"])
        self.assertEqual(second["data"]["care_of"], first["data"]["care_of"])
        self.assertEqual(self.tb.where("C")["data"]["revision"], rev)  # nothing written
        self.check_case("2 E to C* after a repeated move", "E", "C")

    def test_moves_from_a_file(self):
        """`sswctl -c CONF -f FILE`: each line in turn on one connection, one JSON result
        each; a file with a malformed line is refused before anything is written."""
        d = self.tb.topo.tmpdir("ssw-moves-")
        bad = os.path.join(d, "bad.txt")
        with open(bad, "w") as f:
            f.write("migrate C --to foreign\nmigrate V --to foreign --colour blue\n")
        rev = self.tb.where("C")["data"]["revision"]
        res = self.tb.sswctl("--json", "-f", bad)
        self.assertEqual(res.returncode, 2, res.stdout)
        self.assertIn("bad.txt:2: unknown option --colour", res.stderr)
        self.assertEqual(self.tb.where("C")["data"]["revision"], rev)  # nothing written
        with open(bad, "w") as f:  # a verb without its VM, after a good line
            f.write("migrate C --to foreign\nwhere\n")
        res = self.tb.sswctl("--json", "-f", bad)
        self.assertEqual(res.returncode, 2, res.stdout)
        self.assertIn("bad.txt:2: usage:", res.stderr)
        self.assertEqual(self.tb.where("C")["data"]["revision"], rev)
        good = os.path.join(d, "moves.txt")
        with open(good, "w") as f:
            f.write("# C away and back, V away\nmigrate C --to foreign2\n\nreturn C\n"
                    "migrate V --to foreign --mode triangle\n")
        res = self.tb.sswctl("--json", "-f", good)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        outs, pos, dec = [], 0, json.JSONDecoder()
        while res.stdout[pos:].strip():
            obj, end = dec.raw_decode(res.stdout[pos:].lstrip())
            pos += len(res.stdout[pos:]) - len(res.stdout[pos:].lstrip()) + end
            outs.append(obj)
        self.assertEqual([o["data"]["to"] for o in outs], ["foreign2", "home", "foreign"])
        self.assertTrue(all(o["ok"] and o["data"]["convergence_ms"] > 0 for o in outs), outs)
        self.assertEqual(len({o["data"]["move"] for o in outs}), 3)  # a move id each
        self.assertEqual(self.tb.where("C")["data"]["location"], "home")
        self.tb._attach("V", "foreign")  # the link follows, as tb.move does
        arping(self.tb.hosts["V"], "eth0", addr("V"), count=1, unsolicited=True, timeout=1)
        self.check_case("2 E to V* (triangle) after moves from a file", "E", "V")
        self.tb.move("V", "home")

    def test_two_movers_of_one_vm(self):
        """Two movers of C at once, while R1's agent is held (SIGSTOP) so that the first
        move cannot finish before the second starts: one moves C, the other is refused at
        once and changes nothing."""
        epoch = self.tb.where("C")["data"]["epoch"]
        cmd = lambda to: [sswrouter.SSWCTL_BIN, *self.tb.etcd.client_args(), "--json",  # noqa
                          "--phase-timeout", "60000", "migrate", "C", "--to", to]
        a1 = self.tb.agents["R1"]
        a1.proc.send_signal(signal.SIGSTOP)
        try:
            procs = {to: subprocess.Popen(cmd(to), stdout=subprocess.PIPE, text=True)
                     for to in ("foreign", "foreign2")}
            # The loser is refused without waiting for any router.
            wait_until(lambda: any(p.poll() is not None for p in procs.values()), timeout=30,
                       what="one mover refused")
        finally:
            a1.proc.send_signal(signal.SIGCONT)
        outs = {to: json.loads(p.communicate(timeout=60)[0]) for to, p in procs.items()}
        won = [to for to, o in outs.items() if o["ok"]]
        self.assertEqual(len(won), 1, outs)
        lost = outs[next(to for to in outs if to not in won)]
        self.assertRegex(lost["error"], "VM C is being moved by .*; nothing changed")
        where = self.tb.where("C")["data"]
        self.assertEqual((where["location"], where["phase"]), (won[0], "done"))
        self.assertEqual(where["epoch"], epoch + 1)
        self.tb._attach("C", won[0])
        arping(self.tb.hosts["C"], "eth0", addr("C"), count=1, unsolicited=True, timeout=1)
        self.tb.wait_agents_in_sync()
        for r in ("R1", "R3"):
            self.assertEqual([x[1] for x in nat(self.tb.routers[r])], [where["care_of"]])
        self.check_case("2 E to C* after two movers", "E", "C")

    def test_mover_killed_between_phases_then_resumed(self):
        """sswctl dies while the switch phase waits for R1 (its agent stopped): the phase
        stays in etcd; --resume is refused while the dead mover's lock lasts, then finishes
        the move."""
        a1 = self.tb.agents["R1"]
        self.tb._attach("C", "foreign")  # the VM has moved; its routers follow
        mover = subprocess.Popen([sswrouter.SSWCTL_BIN, *self.tb.etcd.client_args(), "--json",
                                  "--lock-ttl", "2", "--phase-timeout", "60000",
                                  "migrate", "C", "--to", "foreign"],
                                 stdout=subprocess.PIPE, text=True)
        try:
            a1.proc.send_signal(signal.SIGSTOP)
            wait_until(lambda: self.tb.where("C")["data"]["phase"] == "switch", timeout=20,
                       what="the move at its switch phase")
            mover.kill()
            mover.communicate()
        finally:
            a1.proc.send_signal(signal.SIGCONT)
        out = self.sswctl("migrate", "--resume", "C")
        if not out["ok"]:  # the dead mover's lock has not expired yet
            self.assertIn("being moved by", out["error"])
            time.sleep(3)
            out = self.sswctl("migrate", "--resume", "C")
        self.assertTrue(out["ok"], out)
        self.assertIn("taking over", " ".join(out["log"]))
        where = self.tb.where("C")["data"]
        self.assertEqual((where["location"], where["phase"]), ("foreign", "done"))
        arping(self.tb.hosts["C"], "eth0", addr("C"), count=1, unsolicited=True, timeout=1)
        self.check_case("2 E to C* after a resumed move", "E", "C")
        self.assertTrue(self.sswctl("migrate", "--resume", "C")["ok"])  # nothing to resume

    def test_metrics_scraped_by_prometheus(self):
        """ssw-agent --metrics, scraped by Debian's real prometheus server: the values it
        stores agree with what the router and etcd say."""
        self.tb.move("C", "foreign")
        port, web = free_ports(2)
        old = self.tb.agents["R1"]
        old.stop()
        a1 = Agent(self.tb.topo, self.tb.etcd, "R1", self.tb.routers["R1"].socket,
                   extra_args=["--lease-ttl", str(LEASE_TTL), "--metrics", f"127.0.0.1:{port}"])
        self.tb.agents["R1"] = a1.start()
        self.tb.wait_agents_in_sync()
        d = self.tb.topo.tmpdir("ssw-prometheus-")
        with open(os.path.join(d, "prometheus.yml"), "w") as f:
            f.write("global: {scrape_interval: 1s}\nscrape_configs:\n"
                    f"  - job_name: ssw\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
        prom = self.tb.topo.popen([PROMETHEUS, f"--config.file={d}/prometheus.yml",
                                   f"--storage.tsdb.path={d}/data",
                                   f"--web.listen-address=127.0.0.1:{web}"])

        def query(q):
            url = f"http://127.0.0.1:{web}/api/v1/query?" + urllib.parse.urlencode({"query": q})
            with urllib.request.urlopen(url, timeout=5) as r:
                res = json.load(r)["data"]["result"]
            return {tuple(sorted(x["metric"].items())): float(x["value"][1]) for x in res}

        try:
            self.check_case("2 E to C* (traffic to count)", "E", "C")
            r1 = self.tb.routers["R1"]
            # Once a scrape after the traffic is stored, it must agree with the router's own.
            bindings = r1.ctl("show stats")["bindings"]
            self.assertEqual(bindings, 1)
            wait_until(lambda: query('ssw_router_bindings{router="R1"}'), timeout=30,
                       interval=0.5, ignore=(OSError,), what="prometheus to scrape the agent")
            self.assertEqual(list(query('ssw_router_bindings{router="R1"}').values()), [1.0])
            self.assertEqual(list(query('ssw_router_up{router="R1"}').values()), [1.0])
            rev = next(r["applied"] for r in self.sswctl("agents")["data"]["routers"]
                       if r["router"] == "R1")
            wait_until(lambda: list(query("ssw_agent_applied_revision").values()) == [rev],
                       timeout=10, interval=0.5, what="the applied revision")
            before = {p["port"]: p["rx_packets"] for p in r1.ctl("show ports")}
            time.sleep(2.5)  # a scrape after `before`
            got = query('ssw_router_port_rx_packets_total{router="R1"}')
            after = {p["port"]: p["rx_packets"] for p in r1.ctl("show ports")}
            self.assertEqual(len(got), len(before))
            for labels, v in got.items():
                p = int(dict(labels)["port"])
                self.assertGreaterEqual(v, before[p])
                self.assertLessEqual(v, after[p])
            self.assertGreater(sum(got.values()), 0)
            drops = query('ssw_router_drops_total{router="R1"}')
            stats = r1.ctl("show stats")
            self.assertEqual(len(drops), len(stats["drops"]))
            self.assertEqual(list(query("ssw_agent_lag_revisions").values()), [0.0])
        finally:
            self.tb.topo.stop(prom)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
