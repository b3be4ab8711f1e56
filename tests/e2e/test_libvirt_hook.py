"""The libvirt QEMU hook (conf/libvirt/qemu), run as libvirt runs it (argv, the domain XML on
stdin, stdout and stderr read to their end) against a fake sswctl that records its calls: no
etcd, no root. The hook against a real etcd and real QEMU is in test_real_vms.py."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../conf/libvirt/qemu")

TOPOLOGY = {
    "routers": {"R1": {}, "R2": {}, "R3": {}, "R4": {}},
    "subnets": {
        "home": {"prefix": "192.168.11.0/24", "router": "R3", "port": 1,
                 "gateway": "192.168.11.1", "care_of_pool": "192.168.11.100-192.168.11.199"},
        "foreign": {"prefix": "192.168.12.0/24", "router": "R2", "port": 1,
                    "gateway": "192.168.12.1", "care_of_pool": "192.168.12.100-192.168.12.199"},
    },
    "vms": {"C": {"address": "192.168.11.3", "mac": "52:54:00:AB:11:03"}, "D": "192.168.11.4"},
}
C_MAC = "52:54:00:ab:11:03"

DOMAIN_XML = """<domain type='kvm' id='7'>
  <name>{name}</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <memory unit='KiB'>524288</memory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type><boot dev='hd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/{name}.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:12:34:56'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <interface type='bridge'>
      <mac address='{mac}'/>
      <source bridge='br-ssw'/>
      <target dev='vnet3'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'><target port='0'/></serial>
  </devices>
</domain>
"""

# Records each call (argv, pid, session, stdin) in calls.jsonl; answers `topology get` and
# `where`; a migrate or return stages the move (the `staged` file, which `where` then shows)
# after 0.1 s and ends MOVE_S later, as the real one ends only when the VM arrives.
FAKE_SSWCTL = """#!{python}
import json, os, sys, time
d = os.environ["FAKE_SSWCTL_DIR"]
b = json.load(open(os.path.join(d, "behavior.json")))
with open(os.path.join(d, "calls.jsonl"), "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "pid": os.getpid(), "sid": os.getsid(0),
                        "stdin": os.readlink("/proc/self/fd/0")}}) + "\\n")
words, i, args = sys.argv[1:], 0, []
while i < len(words):
    if words[i] == "-c":
        i += 2
        continue
    if words[i] != "--json":
        args.append(words[i])
    i += 1
topo = json.load(open(os.path.join(d, "topology.json")))
staged = os.path.join(d, "staged")
if args[:2] == ["topology", "get"]:
    if b["shape"] == "data":
        print(json.dumps({{"ok": True, "data": topo}}))
    else:
        print(json.dumps({{"ok": True, "log": [json.dumps(topo)]}}, indent=2))
elif args[0] == "where":
    if os.path.exists(staged):
        data = {{"vm": args[1], "location": open(staged).read(), "phase": "prepare",
                "await_arrival": "{mac}", "move": "fake-1", "revision": 7,
                "routers": [{{"router": r, "applied": 7, "agent": "in sync"}}
                            for r in ("R1", "R2", "R3", "R4")]}}
    else:
        data = {{"vm": args[1], "location": "home", "phase": "done", "revision": 3}}
    print(json.dumps({{"ok": True, "log": [], "data": data}}, indent=2))
elif args[0] in ("migrate", "return"):
    print("fake sswctl: staging", args[1], flush=True)
    time.sleep(0.1)
    if b["fail"]:
        print("sswctl: migrate: router R2 has no live agent; nothing changed", file=sys.stderr)
        sys.exit(1)
    if b["already"]:
        print(args[1], "is in foreign already (epoch 2)")
        sys.exit(0)
    with open(staged + ".tmp", "w") as f:
        f.write(args[args.index("--to") + 1] if "--to" in args else "home")
    os.rename(staged + ".tmp", staged)
    time.sleep(b["move_s"])
    open(os.path.join(d, "done"), "w").close()
    print("arrived: R2 by rarp")
else:
    print("fake sswctl: unexpected", args, file=sys.stderr)
    sys.exit(2)
"""

MOVE_S = 1.5


class LibvirtHookTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ssw-hook-")
        self.dir = self.tmp.name
        self.sswctl = os.path.join(self.dir, "sswctl")
        with open(self.sswctl, "w") as f:
            f.write(FAKE_SSWCTL.format(python=sys.executable, mac=C_MAC))
        os.chmod(self.sswctl, 0o755)
        with open(os.path.join(self.dir, "topology.json"), "w") as f:
            json.dump(TOPOLOGY, f)
        self.behave()
        self.log = os.path.join(self.dir, "log", "libvirt-hook.log")
        self.config = os.path.join(self.dir, "hook.json")
        self.configure()

    def tearDown(self):
        for c in self.calls():  # the detached sswctl still waiting for its VM
            if c["argv"][2:3] in (["migrate"], ["return"]):
                try:
                    os.kill(c["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.tmp.cleanup()

    def behave(self, fail=False, already=False, shape="data"):
        with open(os.path.join(self.dir, "behavior.json"), "w") as f:
            json.dump({"fail": fail, "already": already, "shape": shape, "move_s": MOVE_S}, f)

    def configure(self, **over):
        conf = {"etcd_config": "/etc/ssw/etcd.json", "subnet": "foreign",
                "sswctl": self.sswctl, "mode": "optimized", "arrival_timeout_ms": 120000,
                "log": self.log, **over}
        with open(self.config, "w") as f:
            json.dump(conf, f)

    def hook(self, *args, mac=C_MAC, name="vm-c", config=None):
        """Runs the hook as libvirt does: waits for its exit and the end of its output."""
        env = dict(os.environ, SSW_HOOK_CONFIG=config or self.config, FAKE_SSWCTL_DIR=self.dir)
        started = time.monotonic()
        r = subprocess.run([HOOK, name, *args], input=DOMAIN_XML.format(name=name, mac=mac),
                           capture_output=True, text=True, env=env, timeout=20)
        return r, time.monotonic() - started

    def calls(self):
        try:
            with open(os.path.join(self.dir, "calls.jsonl")) as f:
                return [json.loads(line) for line in f]
        except FileNotFoundError:
            return []

    def moves(self):
        return [c for c in self.calls() if c["argv"][2:3] in (["migrate"], ["return"])]

    def assert_staged_detached(self, r, elapsed, want_argv):
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "", "the hook's stdout would replace the domain XML")
        self.assertLess(elapsed, MOVE_S, "the hook waited for the detached sswctl")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "done")))
        self.assertTrue(os.path.exists(os.path.join(self.dir, "staged")))
        moves = self.moves()
        self.assertEqual(len(moves), 1, moves)
        self.assertEqual(moves[0]["argv"], want_argv)
        self.assertEqual(moves[0]["sid"], moves[0]["pid"], "sswctl not in its own session")
        self.assertEqual(moves[0]["stdin"], "/dev/null")
        with open(self.log) as f:
            self.assertIn("fake sswctl: staging C", f.read())
        verbs = [c["argv"][2:] for c in self.calls()]
        self.assertEqual(verbs[0], ["--json", "topology", "get"])
        self.assertEqual(verbs[-1], ["--json", "where", "C"])

    def test_foreign_subnet_migrate_on_arrival(self):
        r, elapsed = self.hook("migrate", "begin", "-")
        self.assert_staged_detached(r, elapsed, [
            "-c", "/etc/ssw/etcd.json", "migrate", "C", "--to", "foreign", "--mode",
            "optimized", "--on-arrival", "--arrival-timeout", "120000"])

    def test_home_subnet_return_on_arrival(self):
        self.behave(shape="log")  # the real sswctl's topology get: the stored JSON as its log
        self.configure(subnet="192.168.11.0/24", mode="triangle", arrival_timeout_ms=30000)
        r, elapsed = self.hook("migrate", "begin", "-")
        self.assert_staged_detached(r, elapsed, [
            "-c", "/etc/ssw/etcd.json", "return", "C", "--on-arrival", "--arrival-timeout",
            "30000"])

    def test_domain_without_ssw_mac_is_left_alone(self):
        r, _ = self.hook("migrate", "begin", "-", mac="52:54:00:99:99:99", name="other")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
        self.assertEqual([c["argv"][2:] for c in self.calls()], [["--json", "topology", "get"]])
        with open(self.log) as f:
            self.assertIn("other: no MAC of", f.read())

    def test_other_operations_are_ignored(self):
        for op in (["prepare", "begin", "-"], ["start", "begin", "-"], ["started", "begin", "-"],
                   ["stopped", "end", "-"], ["release", "end", "-"], ["restore", "begin", "-"],
                   ["reconnect", "begin", "-"], ["attach", "begin", "-"]):
            r, _ = self.hook(*op, config=os.path.join(self.dir, "no-such.json"))
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""), op)
        self.assertEqual(self.calls(), [])

    def test_sswctl_failing_before_staging_refuses(self):
        self.behave(fail=True)
        r, _ = self.hook("migrate", "begin", "-")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("exit status 1", r.stderr)
        self.assertIn("router R2 has no live agent", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "staged")))

    def test_sswctl_ending_well_before_staging_is_fine(self):
        self.behave(already=True)
        r, _ = self.hook("migrate", "begin", "-")
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
        self.assertEqual(len(self.moves()), 1)

    def test_config_errors_refuse(self):
        with open(os.path.join(self.dir, "bad.json"), "w") as f:
            f.write("{not json")
        for config in ("no-such.json", "bad.json"):
            r, _ = self.hook("migrate", "begin", "-", config=os.path.join(self.dir, config))
            self.assertEqual(r.returncode, 1, config)
            self.assertIn(config, r.stderr)
        self.configure(subnet="")
        r, _ = self.hook("migrate", "begin", "-")
        self.assertEqual(r.returncode, 1)
        self.assertIn('"subnet"', r.stderr)
        self.configure(sswctl=os.path.join(self.dir, "no-sswctl"))
        r, _ = self.hook("migrate", "begin", "-")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no-sswctl", r.stderr)
        self.assertEqual(self.calls(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
