"""The control socket's access rules and limits, tried as root and as unprivileged users:
group ownership (mode 0660), peer credentials (SO_PEERCRED) even when the file mode is
wrong, the number of clients, the command length, the idle timeout, and clients that send
garbage or hang up mid-command without affecting anyone else."""

import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.netns import Topology, run  # noqa: E402
from sswlab.router import SSWCTL_BIN, Router  # noqa: E402

NOBODY = 65534      # nobody / nogroup: the socket's group below
STRANGER = 65533    # an unprivileged uid and gid with no relation to the socket

# Sends one line as the current user and prints the reply (or the connection error).
CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect-error", e.strerror)
    sys.exit(0)
try:
    s.sendall(sys.argv[2].encode() + b"\n")
except OSError:
    pass  # a refused client is told why and closed, maybe before it has sent anything
data = b""
while not data.endswith(b"\n"):
    try:
        chunk = s.recv(4096)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
print(data.decode().strip())
"""


def as_user(uid, gid, *cmd):
    return run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *cmd], check=False)


class ControlSocketTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology("cs")
        cls.ns = cls.topo.ns("r")
        # A socket directory every user can traverse.
        cls.dir = tempfile.mkdtemp(prefix="ssw-sock-")
        os.chmod(cls.dir, 0o755)
        cls.sock = os.path.join(cls.dir, "ctl.sock")
        cls.router = Router(cls.topo, cls.ns, "cs", [], ["address add 10.0.0.1/24 port 0"],
                            vdevs=["net_null0"], socket=cls.sock,
                            extra_args=["--socket-group", "nogroup", "--max-clients", "3",
                                        "--client-idle-s", "2", "--max-command-bytes", "100"]).start()

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.router.stop() == 0
        finally:
            cls.topo.close()
            shutil.rmtree(cls.dir, ignore_errors=True)

    def call_as(self, uid, gid, line):
        return as_user(uid, gid, "/usr/bin/python3", "-c", CLIENT, self.sock, line).stdout.strip()

    def test_socket_file_is_group_only(self):
        st = os.stat(self.sock)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, NOBODY)

    def test_root_and_group_members_may_use_it(self):
        self.assertTrue(self.router.ctl("show ports"))
        rep = json.loads(self.call_as(NOBODY, NOBODY, "show addresses"))
        self.assertTrue(rep["ok"], rep)
        # A member through a supplementary group only.
        res = run(["setpriv", f"--reuid={STRANGER}", f"--regid={STRANGER}", f"--groups={NOBODY}",
                   "/usr/bin/python3", "-c", CLIENT, self.sock, "show addresses"], check=False)
        self.assertTrue(json.loads(res.stdout)["ok"], res.stdout)

    def test_others_are_refused_even_if_the_file_mode_is_wrong(self):
        self.assertIn("connect-error Permission denied", self.call_as(STRANGER, STRANGER, "show ports"))
        os.chmod(self.sock, 0o666)  # a mistake an operator could make
        try:
            rep = json.loads(self.call_as(STRANGER, STRANGER, "address add 10.9.9.1/24 port 0"))
        finally:
            os.chmod(self.sock, 0o660)
        self.assertFalse(rep["ok"])
        self.assertIn("permission denied", rep["error"])
        self.assertEqual([a["address"] for a in self.router.ctl("show addresses")], ["10.0.0.1/24"])

    def test_limits_and_misbehaving_clients(self):
        a = self.router.client()
        # Garbage and an overlong command get errors; the connection stays usable.
        rep = a.call("\x00\x01\xfe garbage")
        self.assertFalse(rep["ok"])
        rep = a.call("show " + "x" * 200)
        self.assertFalse(rep["ok"])
        self.assertIn("longer than 100 bytes", rep["error"])
        self.assertTrue(a.call("show routes")["ok"])
        # A client that hangs up mid-command: nothing is applied.
        b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        b.connect(self.sock)
        b.sendall(b"address add 10.7.7.1/24 port 0")  # no newline
        b.close()
        self.assertTrue(a.call("show routes")["ok"])
        self.assertNotIn("10.7.7.1/24", [x["address"] for x in a.call("show addresses")["data"]])
        # At most three clients: a fourth is told why and closed.
        b, c = self.router.client(), self.router.client()
        d = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        d.connect(self.sock)
        d.settimeout(5)
        self.assertIn("too many clients", d.recv(4096).decode())
        d.close()
        for x in (a, b, c):
            x.close()
        time.sleep(0.5)  # the router notices the hang-ups
        # An idle client is disconnected after --client-idle-s, with a reason.
        e = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        e.connect(self.sock)
        e.settimeout(10)
        t0 = time.monotonic()
        msg = e.recv(4096).decode()
        self.assertIn("idle for 2 s", msg)
        self.assertEqual(e.recv(4096), b"")
        self.assertGreater(time.monotonic() - t0, 1.5)
        e.close()


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
