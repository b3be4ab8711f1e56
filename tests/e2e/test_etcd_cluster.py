"""End to end: the distributed control plane on a 3-member etcd cluster with TLS and client
certificates (docs/DESIGN.md §6.2), the faults a cluster meets.

The testbed's four routers and real hosts, an ssw-agent per router; etcd's members and sswctl
in namespace "mgmt", each agent in a namespace of its own on mgmt's bridge, so that nftables
in one agent's namespace cut it off (Testbed(mgmt_net=True)). Each test ends by comparing
what every router holds (`show nat`) with what `sswctl where` says it must hold.

1. TLS: the right client certificate works; none, or one of another CA, is refused with an
   error naming the members, and nothing is written.
2. The etcd leader killed (SIGKILL) during 50 moves and restarted later: every move ends ok
   or with an error; afterwards every record is done, every router in sync and holding what
   it must, and the hosts reach the VMs where they ended up.
3. An agent partitioned from etcd: its lease expires, a move that needs its router is
   refused with nothing changed, one that does not proceeds; healed, it converges.
4. A router restarted without and with --state-dir, and an agent restarted: the router ends
   holding what it must, without any sswctl command.
5. Compaction while an agent is stopped: it finds its watch compacted, lists again, catches up.
6. 20 sswctl processes moving 20 VMs at once: all succeed, care-of addresses are distinct,
   every router holds exactly what it must.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

import test_migration  # noqa: E402  (its class, not its name: unittest would run it here too)
from sswlab import require_root  # noqa: E402
from sswlab.hosts import HttpServer, arping  # noqa: E402
from sswlab.netns import wait_until  # noqa: E402
from sswlab.testbed import HOSTS, Testbed, addr  # noqa: E402

LEASE_TTL = 3  # s: an agent's status outlives it by this much
MOVES = 50
KILL_AT, RESTART_AT = 15, 30  # the leader dies as move 15 starts, comes back at move 30
EXTRA_VMS = {f"X{i}": f"192.168.11.{i}" for i in range(10, 30)}  # test 6: no hosts
PARTITION_TABLE = "ssw_partition"
# A failed move says which member or router failed it, and what became of it.
CLEAR_ERROR = (r"(etcd \S+:\d+: |router R\d ).*|.*(nothing changed|rolled back|"
               r"migrate --resume)")

BINDING = re.compile(r"nat add (\S+) to (\S+)(?: local port (\d+))?( keep-source)?"
                     r"(?: epoch (\d+))?$")


def parse_binding(text):
    """`where`'s expected binding ("nat add M to M* [local port P [keep-source]] epoch E") as
    show nat's fields: (home, care_of, type, port, epoch)."""
    m = BINDING.match(text)
    if not m:
        raise AssertionError(f"not a binding command: {text!r}")
    home, care_of, port, keep, epoch = m.groups()
    kind = "forward" if port is None else ("local-keep-source" if keep else "local")
    return (home, care_of, kind, int(port) if port else None, int(epoch or 0))


def record(where):
    """A VM's record from `sswctl where`, without the agents' rows."""
    return {k: v for k, v in where["data"].items() if k != "routers"}


def held(router):
    """What a router holds: its bindings, as parse_binding gives them."""
    return sorted((x["home"], x["care_of"], x["type"], x["port"], x["epoch"])
                  for x in router.ctl("show nat"))


class EtcdClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        started = time.monotonic()
        cls.tb = Testbed(tag="ec", control="etcd", etcd_members=3, etcd_tls=True, mgmt_net=True,
                         agent_args=["--lease-ttl", str(LEASE_TTL), "--resync-interval", "5000"])
        try:
            cls.servers = {h: HttpServer(cls.tb.hosts[h], addr(h), size=64 * 1024, port=8080)
                           for h in HOSTS}
        except Exception:
            cls.tb.close()
            raise
        print(f"testbed up in {time.monotonic() - started:.1f} s", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        try:
            for s in cls.servers.values():
                s.stop()
            assert cls.tb.stop_routers(), "a router or agent did not exit cleanly after SIGTERM"
        finally:
            cls.tb.close()

    def setUp(self):
        # Whatever a test broke is whole again: every member up, no partition, every agent
        # running, both VMs at home.
        tb = self.tb
        for i in range(tb.etcd.n):
            if tb.etcd.procs[i] is None:
                tb.etcd.start(i)
        tb.etcd.wait_healthy()
        for name, ns in tb.agent_ns.items():
            ns.run(["nft", "delete", "table", "inet", PARTITION_TABLE], check=False)
        for name, a in tb.agents.items():
            if a.proc is None or a.proc.poll() is not None:
                a.stop()
                a.start()
            else:
                a.proc.send_signal(signal.SIGCONT)
        tb.wait_agents_in_sync()
        for vm in ("C", "V"):
            if tb.segment_of[vm] != "home" or tb.where(vm)["data"]["location"] != "home":
                tb.move(vm, "home")

    # -- helpers --
    def sswctl(self, *args, cert="client"):
        """sswctl --json ARGS through etcd: (exit status, JSON result, stderr)."""
        res = self.tb.sswctl("--json", *args, cert=cert)
        try:
            return res.returncode, json.loads(res.stdout), res.stderr
        except json.JSONDecodeError:
            raise AssertionError(f"sswctl {' '.join(args)} printed no JSON ({res.returncode}): "
                                 f"{res.stdout!r} {res.stderr!r}")

    def ok(self, *args):
        code, out, err = self.sswctl(*args)
        self.assertTrue(out["ok"] and code == 0, f"sswctl {' '.join(args)}: {out} {err}")
        return out

    def agent_rows(self):
        return {r["router"]: r for r in self.ok("agents")["data"]["routers"]}

    def expected(self, vms=("C", "V")):
        """Per router, the bindings `where` says it must hold for vms."""
        want = {name: [] for name in self.tb.routers}
        for vm in vms:
            for row in self.tb.where(vm)["data"]["routers"]:
                if row["expected"] != "-":
                    want[row["router"]].append(parse_binding(row["expected"]))
        return {name: sorted(b) for name, b in want.items()}

    def assert_routers_hold_expected(self, vms=("C", "V"), timeout=20):
        """Every agent in sync, and every router holding exactly what `where` expects."""
        self.tb.wait_agents_in_sync(timeout=timeout)
        want = self.expected(vms)
        try:
            wait_until(lambda: all(held(r) == want[n] for n, r in self.tb.routers.items()),
                       timeout=timeout, what="every router to hold what `where` expects")
        except AssertionError:
            self.assertEqual({n: held(r) for n, r in self.tb.routers.items()}, want)

    def store(self, prefix):
        """Every key and value under the deployment's prefix + `prefix`, from etcdctl."""
        res = self.tb.etcd.etcdctl("get", "--prefix", "/ssw/v1/" + prefix, "-w", "json")
        kvs = json.loads(res.stdout).get("kvs", [])
        return {x["key"]: (x["value"], x["mod_revision"]) for x in kvs}

    def store_revision(self):
        res = self.tb.etcd.etcdctl("get", "/ssw/v1/desired/topology", "-w", "json")
        return json.loads(res.stdout)["header"]["revision"]

    def check_case(self, case, src, dst):
        test_migration.MigrationTest.check_case(self, case, src, dst)

    def check_vm_connectivity(self, vm):
        """Hosts on every segment and the outside reach vm where it is, and vm reaches them."""
        for peer in ("E", "D", "B", "G"):
            self.check_case(f"{peer} to {vm} (at {self.tb.segment_of[vm]})", peer, vm)
            self.check_case(f"{vm} (at {self.tb.segment_of[vm]}) to {peer}", vm, peer)

    def settle_links(self):
        """Moves each VM's link where etcd says the VM is and lets it announce itself, as
        Testbed.move does. The moves ran with the links in place, so the routers' gratuitous
        ARP reached the wrong segments: the hosts' neighbor caches are flushed, as if they had
        expired."""
        for vm in ("C", "V"):
            self.tb._attach(vm, self.tb.where(vm)["data"]["location"])
        for h in HOSTS:
            self.tb.hosts[h].run(["ip", "neigh", "flush", "all"])
        for vm in ("C", "V"):
            arping(self.tb.hosts[vm], "eth0", addr(vm), count=1, unsolicited=True, timeout=1)

    # -- 1 --
    def test_1_tls_client_certificates(self):
        tb = self.tb
        before = {p: self.store(p) for p in ("desired/", "careof/", "lock/")}
        where = self.ok("where", "C")["data"]
        self.assertEqual((where["location"], where["phase"]), ("home", "done"))
        members = [u.split("://")[1] for u in tb.etcd.client_urls]
        for cert, what in ((None, "no client certificate"),
                           ("rogue", "a client certificate of another CA")):
            for args in (("migrate", "C", "--to", "foreign"), ("where", "C")):
                started = time.monotonic()
                code, out, err = self.sswctl(*args, cert=cert)
                self.assertNotEqual(code, 0, f"{what}: {args} accepted: {out}")
                self.assertFalse(out["ok"], out)
                for m in members:  # every member was tried, and is named
                    self.assertIn(f"etcd {m}:", out["error"], f"{what}: {out['error']}")
                    self.assertIn(m, err)
                self.assertIn(f"sswctl: {args[0]}: etcd ", err)
                self.assertLess(time.monotonic() - started, 15, f"{what}: refused too slowly")
        # The client does not trust members whose certificate another CA signed.
        argv = tb.sswctl_argv("--json", "where", "C")
        argv[argv.index("--cacert") + 1] = tb.etcd.certs["other-ca"]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(res.returncode, 0, res.stdout)
        self.assertIn(f"etcd {members[0]}:", json.loads(res.stdout)["error"])
        # Nothing was written: the record, the care-of addresses and the locks are as before.
        self.assertEqual({p: self.store(p) for p in before}, before)
        where_after = self.ok("where", "C")["data"]
        self.assertEqual(where_after, where)
        self.assert_routers_hold_expected()

    # -- 2 --
    def test_2_leader_killed_during_50_moves(self):
        tb = self.tb
        cycle = {"C": [("foreign", "optimized"), ("foreign2", "triangle"), ("home", None),
                       ("foreign2", "optimized"), ("foreign", "triangle"), ("home", None)],
                 "V": [("foreign2", "triangle"), ("foreign", "optimized"), ("home", None),
                       ("foreign", "triangle"), ("foreign2", "optimized"), ("home", None)]}
        plan = []
        for i in range(MOVES):
            vm = "CV"[i % 2]
            plan.append((vm, *cycle[vm][(i // 2) % len(cycle[vm])]))
        results = [None] * MOVES
        started = threading.Semaphore(0)  # released as each move starts

        def run_moves():
            for i, (vm, to, mode) in enumerate(plan):
                args = (["return", vm] if to == "home"
                        else ["migrate", vm, "--to", to, "--mode", mode])
                started.release()
                t = time.monotonic()
                res = subprocess.run(tb.sswctl_argv("--json", *args), capture_output=True,
                                     text=True, timeout=120)
                results[i] = (args, res.returncode, res.stdout, res.stderr, time.monotonic() - t)

        mover = threading.Thread(target=run_moves)
        t0 = time.monotonic()
        mover.start()
        killed = None
        try:
            for n in range(1, MOVES + 1):
                started.acquire()
                if n == KILL_AT - 2:
                    leader = wait_until(lambda: [tb.etcd.leader()] if tb.etcd.leader() is not None
                                        else None, timeout=10, what="an etcd leader")[0]
                if n == KILL_AT:
                    time.sleep(0.08)  # into the move (its first writes)
                    killed = leader
                    tb.etcd.kill(killed)
                    killed_at = time.monotonic() - t0
                if n == RESTART_AT:
                    tb.etcd.start(killed)
        finally:
            mover.join()
        elapsed = time.monotonic() - t0
        tb.etcd.wait_healthy()

        oks, failures = 0, []
        for i, r in enumerate(results):
            self.assertIsNotNone(r, f"move {i} did not run")
            args, code, stdout, stderr, _ = r
            try:
                out = json.loads(stdout)
            except json.JSONDecodeError:
                self.fail(f"move {i} ({' '.join(args)}) printed no JSON ({code}): {stdout!r} "
                          f"{stderr!r}")
            if out["ok"]:
                self.assertEqual(code, 0, out)
                oks += 1
            else:
                self.assertNotEqual(code, 0, out)
                self.assertRegex(out.get("error", ""), CLEAR_ERROR, out)
                self.assertIn(out["error"], stderr)
                failures.append(f"move {i} ({' '.join(args)}): {out['error']}")
        print(f"\n{MOVES} moves in {elapsed:.1f} s, leader {tb.etcd.names[killed]} killed at "
              f"{killed_at:.1f} s; {oks} ok, {len(failures)} failed" +
              "".join(f"\n  {f}" for f in failures), file=sys.stderr)
        self.assertGreaterEqual(oks, MOVES - 10, failures)

        # Whatever failed was rolled back or finished: nothing is half-applied.
        for vm in ("C", "V"):
            w = tb.where(vm)["data"]
            self.assertEqual(w["phase"], "done", w)
            self.assertNotIn(f"/ssw/v1/lock/{addr(vm)}", self.store("lock/"))
        out = self.ok("reconcile")
        self.assertTrue(all(r["agent"] == "in sync" and not r["failures"]
                            for r in out["data"]["routers"]), out)
        self.assert_routers_hold_expected()
        self.settle_links()
        for vm in ("C", "V"):
            self.check_vm_connectivity(vm)
        self.check_case("C to V", "C", "V")
        self.check_case("V to C", "V", "C")

    # -- 3 --
    def partition(self, router):
        """Drops everything between `router`'s agent and the management network."""
        ns = self.tb.agent_ns[router]
        t = PARTITION_TABLE
        for cmd in (f"add table inet {t}",
                    f"add chain inet {t} in {{ type filter hook input priority 0 ; }}",
                    f"add chain inet {t} out {{ type filter hook output priority 0 ; }}",
                    f"add rule inet {t} in iifname eth0 drop",
                    f"add rule inet {t} out oifname eth0 drop"):
            ns.run(["nft", *cmd.split()])

    def heal(self, router):
        self.tb.agent_ns[router].run(["nft", "delete", "table", "inet", PARTITION_TABLE])

    def test_3_agent_partitioned_from_etcd(self):
        tb = self.tb
        tb.move("C", "foreign")
        c_before = record(tb.where("C"))
        holdings = {n: held(r) for n, r in tb.routers.items()}
        t0 = time.monotonic()
        self.partition("R4")
        wait_until(lambda: self.agent_rows()["R4"]["agent"].startswith("none"),
                   timeout=LEASE_TTL + 10, interval=0.2, what="R4's status to expire")
        print(f"\nR4's status expired {time.monotonic() - t0:.1f} s after the partition",
              file=sys.stderr)
        rows = self.agent_rows()
        self.assertTrue(all(rows[r]["agent"] == "in sync" for r in ("R1", "R2", "R3")), rows)
        # Optimized, C needs R4 (a forward binding there): refused before anything is written.
        code, out, err = self.sswctl("migrate", "C", "--to", "foreign2", "--mode", "optimized")
        self.assertNotEqual(code, 0, out)
        self.assertIn("router R4 has no live agent", out["error"])
        self.assertIn("nothing changed", out["error"])
        self.assertEqual(record(tb.where("C")), c_before)
        self.assertEqual({n: held(r) for n, r in tb.routers.items()}, holdings)
        # A triangle move of V between home and foreign needs R2 and R3 only.
        tb.move("V", "foreign", "triangle")
        self.check_case("6 B to V* while R4's agent is cut off", "B", "V")
        self.check_case("2 E to V* (triangle) while R4's agent is cut off", "E", "V")
        self.assertEqual(held(tb.routers["R4"]), holdings["R4"])
        # Healed: R4's agent comes back to the newest revision, with what R4 must hold.
        t0 = time.monotonic()
        self.heal("R4")
        self.assert_routers_hold_expected(timeout=40)
        print(f"R4 in sync {time.monotonic() - t0:.1f} s after the heal", file=sys.stderr)
        tb.move("C", "foreign2")
        self.assert_routers_hold_expected()
        self.check_case("8 E to C** after the heal", "E", "C")
        self.check_case("8 C** to V* after the heal", "C", "V")

    # -- 4 --
    def test_4_router_and_agent_restarts(self):
        tb = self.tb
        tb.move("C", "foreign")
        tb.move("V", "foreign2", "triangle")
        self.assert_routers_hold_expected()
        want = self.expected()

        # R1 without --state-dir: back empty, its agent repairs it.
        a1, r1 = tb.agents["R1"], tb.routers["R1"]
        a1.proc.send_signal(signal.SIGSTOP)  # so that we see the router as it starts
        try:
            r1.kill()
            r1.start()
            self.assertEqual(held(r1), [], "R1 kept bindings without --state-dir")
        finally:
            a1.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: held(r1) == want["R1"], timeout=20, what="R1 repaired by its agent")

        # R3 with --state-dir: once its agent has filled it, it restarts holding it all.
        a3, r3 = tb.agents["R3"], tb.routers["R3"]
        state = tb.topo.tmpdir("ssw-r3-state-")
        r3.argv += ["--state-dir", state]
        r3.stop()
        r3.start()
        wait_until(lambda: held(r3) == want["R3"], timeout=20, what="R3 repaired by its agent")
        a3.proc.send_signal(signal.SIGSTOP)
        try:
            r3.kill()
            r3.start()
            self.assertEqual(held(r3), want["R3"], "R3 did not restore its journal")
        finally:
            a3.proc.send_signal(signal.SIGCONT)
        self.assert_routers_hold_expected()

        # R2's agent killed; meanwhile R2 restarts, empty; a new agent fills it.
        a2, r2 = tb.agents["R2"], tb.routers["R2"]
        a2.kill()
        r2.kill()
        r2.start()
        self.assertEqual(held(r2), [])
        a2.start()
        wait_until(lambda: held(r2) == want["R2"], timeout=20, what="R2 repaired by a new agent")
        self.assert_routers_hold_expected()
        self.assertEqual(self.expected(), want)  # no sswctl moved anything
        tb.move("V", "foreign2", "triangle")  # the same place: nothing to do
        self.check_case("2 E to C* after the restarts", "E", "C")
        self.check_case("8 C* to V** after the restarts", "C", "V")

    # -- 5 --
    def test_5_compacted_while_an_agent_is_stopped(self):
        tb = self.tb
        a2 = tb.agents["R2"]
        relists_before = self.agent_rows()["R2"]["relists"]
        log_before = len(a2.output())
        a2.proc.send_signal(signal.SIGSTOP)
        try:
            # Every member restarted in turn: R2's agent's watch stream, whichever member it
            # is on, is gone when it wakes up.
            for i in range(tb.etcd.n):
                tb.etcd.restart(i)
                tb.etcd.wait_healthy()
            # Moves that do not need R2 (triangle: R3 and R4).
            for to in ("foreign2", "home", "foreign2"):
                tb.move("V", to, "triangle")
            rev = self.store_revision()
            tb.etcd.etcdctl("compact", str(rev))
            wait_until(lambda: self.agent_rows()["R2"]["agent"].startswith("none"),
                       timeout=LEASE_TTL + 10, interval=0.2, what="R2's status to expire")
        finally:
            a2.proc.send_signal(signal.SIGCONT)
        self.assert_routers_hold_expected(timeout=30)
        said = a2.output()[log_before:]
        self.assertIn("watch compacted at", said)
        relists = self.agent_rows()["R2"]["relists"]
        self.assertGreaterEqual(relists, relists_before + 1, said)
        self.check_case("6 B to V** after R2's agent caught up", "B", "V")

    # -- 6 --
    def test_6_twenty_movers_at_once(self):
        tb = self.tb
        with open(tb.topology_path) as f:
            topo = json.load(f)
        topo["vms"].update(EXTRA_VMS)
        path = os.path.join(tb.dir, "topology-x.json")
        with open(path, "w") as f:
            json.dump(topo, f)
        self.ok("topology", "put", path)
        tb.wait_agents_in_sync()
        vms = sorted(EXTRA_VMS)
        try:
            for phase in ("away", "back"):
                argvs = {}
                for k, vm in enumerate(vms):
                    if phase == "back":
                        args = ["return", vm]
                    else:
                        # 15 of them race for the care-of addresses of one pool.
                        args = ["migrate", vm, "--to", "foreign2" if k % 4 == 3 else "foreign",
                                "--mode", ("optimized", "triangle")[k % 2]]
                    argvs[vm] = tb.sswctl_argv("--json", *args)
                t0 = time.monotonic()
                procs = {vm: subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              text=True) for vm, a in argvs.items()}
                outs = {}
                for vm, p in procs.items():
                    stdout, stderr = p.communicate(timeout=120)
                    outs[vm] = (p.returncode, stdout, stderr)
                print(f"\n20 movers ({phase}) in {time.monotonic() - t0:.1f} s", file=sys.stderr)
                for vm, (code, stdout, stderr) in outs.items():
                    out = json.loads(stdout)
                    self.assertTrue(out["ok"] and code == 0, f"{vm}: {out} {stderr}")
                if phase == "away":
                    care_ofs = [json.loads(o[1])["data"]["care_of"] for o in outs.values()]
                    self.assertEqual(len(set(care_ofs)), len(vms), care_ofs)
                for vm in vms:
                    w = tb.where(vm)["data"]
                    self.assertEqual(w["phase"], "done", w)
                self.assert_routers_hold_expected(("C", "V", *vms), timeout=30)
            self.assertTrue(all(held(r) == [] for r in tb.routers.values()))
        finally:
            self.ok("topology", "put", tb.topology_path)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
