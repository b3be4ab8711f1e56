"""Restarts that lose nothing: a router with --state-dir is killed with SIGKILL at random
moments during a stream of updates (single commands and batches), restarted, and must hold
every acknowledged change, and of the one in flight either all or nothing. A damaged state
file stops the start with a message that says how to recover."""

import os
import random
import shutil
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.netns import Topology  # noqa: E402
from sswlab.router import Router  # noqa: E402

CONFIG = ["address add 10.0.0.1/24 port 0", "address add 10.1.0.1/24 port 1", "port 1 role core"]


def home(i):
    return f"172.16.{i // 250}.{i % 250 + 1}"


def care_of(i, v):
    return f"172.20.{i % 200}.{v % 250 + 1}"


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.topo = Topology("du")
        self.ns = self.topo.ns("r")
        self.state = tempfile.mkdtemp(prefix="ssw-state-")

    def tearDown(self):
        self.topo.close()
        shutil.rmtree(self.state, ignore_errors=True)

    def router(self):
        return Router(self.topo, self.ns, "du", [], CONFIG, vdevs=["net_null0", "net_null1"],
                      extra_args=["--state-dir", self.state])

    def held(self, r):
        nat = {x["home"]: (x["care_of"], x["epoch"]) for x in r.ctl("show nat")}
        proxy = {(x["port"], x["prefix"]) for x in r.ctl("show proxy-arp")}
        return nat, proxy

    def test_sigkill_during_updates_loses_no_acknowledged_change(self):
        rng = random.Random(7)
        expected_nat, expected_proxy = {}, set()
        epoch = {}
        rounds = 6
        for rnd in range(rounds):
            r = self.router().start()
            nat, proxy = self.held(r)
            # What the previous round acknowledged is all there; the in-flight change is
            # whole or absent.
            if hasattr(self, "in_flight"):
                kind, payload = self.in_flight
                present = [nat.get(m) == v for m, v in payload]
                self.assertTrue(all(present) or not any(present), f"round {rnd}: half-applied batch")
                if all(present):
                    expected_nat.update(payload)
            for m, v in expected_nat.items():
                self.assertEqual(nat.get(m), v, f"round {rnd}: acknowledged binding of {m} lost")
            self.assertEqual(set(nat), set(expected_nat), f"round {rnd}: unexpected bindings")
            self.assertTrue(expected_proxy <= proxy)
            expected_proxy = proxy
            # A stream of updates from a client, killed at a random moment.
            c = r.client()
            stop = threading.Event()
            state = {"in_flight": None}

            def stream():
                while not stop.is_set():
                    if rng.random() < 0.3:
                        batch = []
                        for _ in range(rng.randint(2, 20)):
                            i = rng.randrange(400)
                            epoch[i] = epoch.get(i, 0) + 1
                            batch.append((home(i), (care_of(i, epoch[i]), epoch[i])))
                        batch = list(dict(batch).items())
                        state["in_flight"] = ("batch", batch)
                        try:
                            c.call("batch begin")
                            for m, (a, e) in batch:
                                c.call(f"nat add {m} to {a} epoch {e}")
                            rep = c.call("batch commit")
                        except (ConnectionError, OSError):
                            return
                        if rep["ok"]:
                            expected_nat.update(batch)
                    else:
                        i = rng.randrange(400)
                        epoch[i] = epoch.get(i, 0) + 1
                        item = (home(i), (care_of(i, epoch[i]), epoch[i]))
                        state["in_flight"] = ("one", [item])
                        try:
                            rep = c.call(f"nat add {item[0]} to {item[1][0]} epoch {item[1][1]}")
                        except (ConnectionError, OSError):
                            return
                        if rep["ok"]:
                            expected_nat[item[0]] = item[1]
                    state["in_flight"] = None

            t = threading.Thread(target=stream)
            t.start()
            time.sleep(rng.uniform(0.3, 1.5))
            r.kill()
            stop.set()
            t.join(timeout=10)
            c.close()
            if state["in_flight"]:
                self.in_flight = state["in_flight"]
            elif hasattr(self, "in_flight"):
                del self.in_flight
        self.assertGreater(len(expected_nat), 50, "the stream acknowledged too little to prove anything")
        r = self.router().start()
        self.assertEqual(r.stop(), 0)

    def test_damaged_state_stops_the_start_with_a_recovery_hint(self):
        r = self.router().start()
        for i in range(20):
            r.ctl(f"nat add {home(i)} to {care_of(i, 1)}")
        r.kill()
        path = os.path.join(self.state, "journal")
        with open(path, "r+b") as f:
            data = f.read()
            pos = len(data) // 2
            f.seek(pos)
            f.write(bytes([data[pos] ^ 0x20]))
        r2 = self.router().start(wait=False)
        code = r2.wait()
        self.assertNotEqual(code, 0)
        out = r2.output()
        self.assertIn("damaged", out)
        self.assertIn("to recover", out)
        # A torn last record (a crash in the middle of a write) is not damage: dropped.
        with open(path, "r+b") as f:
            f.seek(pos)
            f.write(bytes([data[pos]]))
        # A record cut short: an intact header, then part of its payload (what a crash
        # in the middle of a write leaves).
        with open(path, "rb") as f:
            data = f.read()
        last = data[data.rfind(b"\nR ") + 1:]
        with open(path, "ab") as f:
            f.write(last[:last.index(b"\n") + 10])
        r3 = self.router().start()
        self.assertEqual(len(r3.ctl("show nat")), 20)
        self.assertIn("interrupted", r3.output())
        r3.kill()
        with open(os.path.join(self.state, "snapshot"), "r+b") as f:
            f.truncate(os.path.getsize(os.path.join(self.state, "snapshot")) - 5)
        r4 = self.router().start(wait=False)
        self.assertNotEqual(r4.wait(), 0)
        self.assertIn("snapshot", r4.output())
        self.assertIn("damaged", r4.output())


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
