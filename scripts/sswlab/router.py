"""ssw-router processes in namespaces, driven through sswctl."""

import json
import os
import shutil
import signal
import subprocess
import time

from .eal import hugepages_available  # noqa: F401  (re-exported for tests)
from .netns import cpu_seconds, run, wait_until

BUILD = os.environ.get("SSW_BUILD", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build"))


def _binary(env, name):
    """$env, else the build tree's binary, else the installed one on PATH."""
    if os.environ.get(env):
        return os.environ[env]
    built = os.path.join(BUILD, "control", name)
    return built if os.path.exists(built) else (shutil.which(name) or name)


ROUTER_BIN = _binary("SSW_ROUTER", "ssw-router")
SSWCTL_BIN = _binary("SSWCTL", "sswctl")


class RouterError(Exception):
    pass


class Router:
    """One ssw-router in namespace `ns` (None: the root namespace) with one af_packet port
    per interface in `ports`.

    Memory: hugepages when the machine has them, else --no-huge (see README)."""

    def __init__(self, topo, ns, name, ports, config=(), lcores="0", qpairs=1,
                 extra_args=(), memory_mb=256, huge=None, config_path=None, socket=None,
                 vdevs=None, binary=None, eal_memory=None, log_path=None):
        """config: the startup commands, or config_path: a file of them. binary: another
        ssw-router than ROUTER_BIN. eal_memory: EAL memory options in place of those that
        memory_mb and huge choose (e.g. ["--huge-unlink"]). log_path: where its output goes
        (appended), by default router.log in its directory. The EAL --file-prefix is
        topo.prefix + name: a name used once per topology."""
        self.topo = topo
        self.ns = ns
        self.name = name
        self.ports = list(ports)
        self.dir = topo.tmpdir(f"ssw-{name}-")
        self.socket = socket or os.path.join(self.dir, "ctl.sock")
        if config_path:
            self.config_path = config_path
        else:
            self.config_path = os.path.join(self.dir, "startup.conf")
            with open(self.config_path, "w") as f:
                f.write("\n".join(config) + "\n")
        self.log_path = log_path or os.path.join(self.dir, "router.log")
        self.prefix = f"{topo.prefix}{name}"
        huge = hugepages_available() if huge is None else huge
        eal = ["-l", lcores, "--no-pci", "--file-prefix", self.prefix, "--log-level", "pmd.*:error"]
        if eal_memory is not None:
            eal += list(eal_memory)
        else:
            eal += ["-m", str(memory_mb)] if huge else ["--no-huge", "-m", str(memory_mb), "--no-shconf"]
        if vdevs is not None:  # e.g. ["net_null0", "net_null1"]: ports without a network
            for v in vdevs:
                eal += ["--vdev", v]
        for i, ifname in enumerate(self.ports):
            eal += ["--vdev", f"net_af_packet{i},iface={ifname},qpairs={qpairs}"]
        self.argv = [binary or ROUTER_BIN, *eal, "--", "--config", self.config_path,
                     "--socket", self.socket, *extra_args]
        self.proc = None

    def start(self, wait=True, timeout=30, **popen):
        """Starts the router; with wait, returns once its control socket exists (RouterError
        if it exits first, AssertionError after timeout s). popen: further subprocess.Popen
        arguments (e.g. start_new_session=True)."""
        if os.path.exists(self.socket):
            os.unlink(self.socket)  # left by an earlier run of this router
        self.log = open(self.log_path, "a")
        launch = self.ns.popen if self.ns else self.topo.popen
        self.proc = launch(self.argv, stdout=self.log, stderr=subprocess.STDOUT, **popen)
        if wait:
            wait_until(lambda: os.path.exists(self.socket) or self.proc.poll() is not None,
                       timeout=timeout, what=f"{self.name} control socket")
            if self.proc.poll() is not None:
                raise RouterError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
        return self

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait(self, timeout=60):
        """Waits for the process to exit by itself; returns the exit code."""
        code = self.proc.wait(timeout=timeout)
        self.log.close()
        return code

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.wait()

    def stop(self, timeout=10):
        """SIGTERM; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    # -- control --
    def sswctl(self, *args, check=False, timeout=60):
        return run([SSWCTL_BIN, "-s", self.socket, *args], check=check, timeout=timeout)

    def ctl(self, command):
        """Runs a command; returns its JSON data. Raises RouterError when refused."""
        res = run([SSWCTL_BIN, "-s", self.socket, "--json", *command.split()], check=False)
        try:
            rep = json.loads(res.stdout)
        except json.JSONDecodeError:
            raise RouterError(f"{command}: no JSON reply: {res.stdout} {res.stderr}")
        if not rep.get("ok"):
            raise RouterError(rep.get("error", "refused"))
        return rep.get("data")

    def ctl_error(self, command):
        """Runs a command that must be refused; returns the error message."""
        try:
            self.ctl(command)
        except RouterError as e:
            return str(e)
        raise AssertionError(f"'{command}' was accepted")

    def stats(self):
        return self.ctl("show stats")

    def counter(self, name):
        return self.stats()["counters"][name]

    def drop(self, reason):
        return self.stats()["drops"][reason]

    def port_mac(self, port):
        return self.ctl("show ports")[port]["mac"]

    def client(self, timeout=10):
        """A raw control-socket connection: one line out, one JSON reply back."""
        return ControlClient(self.socket, timeout)

    def cpu_seconds(self):
        """User + system CPU time the process has used so far (None once it has exited)."""
        return cpu_seconds(self.proc.pid)


class ControlClient:
    """One connection to a router's control socket (the protocol sswctl speaks): a command
    line out, one JSON reply line back. timeout: seconds for connecting and for each reply."""

    def __init__(self, path, timeout=10):
        import socket
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def call(self, line):
        self.sock.sendall(line.encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("router closed the connection")
            self.buf += chunk
        reply, self.buf = self.buf.split(b"\n", 1)
        return json.loads(reply)

    def ctl(self, line):
        """Runs a command, as Router.ctl does: returns its JSON data, RouterError when refused."""
        rep = self.call(line)
        if not rep.get("ok"):
            raise RouterError(rep.get("error", "refused"))
        return rep.get("data")

    def close(self):
        self.sock.close()
