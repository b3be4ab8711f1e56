"""ssw-router processes in namespaces, driven through sswctl."""

import json
import os
import shutil
import signal
import subprocess
import time

from .netns import run, wait_until

BUILD = os.environ.get("SSW_BUILD", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build"))


def _binary(env, name):
    """$env, else the build tree's binary, else the installed one on PATH."""
    if os.environ.get(env):
        return os.environ[env]
    built = os.path.join(BUILD, "control", name)
    return built if os.path.exists(built) else (shutil.which(name) or name)


ROUTER_BIN = _binary("SSW_ROUTER", "ssw-router")
SSWCTL_BIN = _binary("SSWCTL", "sswctl")


def hugepages_available():
    """True when 2 MiB hugepages are reserved and hugetlbfs is mounted."""
    try:
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            free = int(f.read())
        with open("/proc/mounts") as f:
            mounted = any(line.split()[2] == "hugetlbfs" for line in f)
        return free >= 128 and mounted
    except OSError:
        return False


class RouterError(Exception):
    pass


class Router:
    """One ssw-router in namespace `ns` with one af_packet port per interface in `ports`.

    Memory: hugepages when the machine has them, else --no-huge (see README)."""

    def __init__(self, topo, ns, name, ports, config=(), lcores="0", qpairs=1,
                 extra_args=(), memory_mb=256, huge=None, config_path=None, socket=None,
                 vdevs=None):
        """config: the startup commands, or config_path: a file of them."""
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
        self.log_path = os.path.join(self.dir, "router.log")
        self.prefix = f"{topo.prefix}{name}"
        huge = hugepages_available() if huge is None else huge
        eal = ["-l", lcores, "--no-pci", "--file-prefix", self.prefix, "--log-level", "pmd.*:error"]
        eal += ["-m", str(memory_mb)] if huge else ["--no-huge", "-m", str(memory_mb), "--no-shconf"]
        if vdevs is not None:  # e.g. ["net_null0", "net_null1"]: ports without a network
            for v in vdevs:
                eal += ["--vdev", v]
        for i, ifname in enumerate(self.ports):
            eal += ["--vdev", f"net_af_packet{i},iface={ifname},qpairs={qpairs}"]
        self.argv = [ROUTER_BIN, *eal, "--", "--config", self.config_path,
                     "--socket", self.socket, *extra_args]
        self.proc = None

    def start(self, wait=True):
        if os.path.exists(self.socket):
            os.unlink(self.socket)  # left by an earlier run of this router
        self.log = open(self.log_path, "a")
        self.proc = self.ns.popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            wait_until(lambda: os.path.exists(self.socket) or self.proc.poll() is not None,
                       timeout=30, what=f"{self.name} control socket")
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
    def sswctl(self, *args, check=False):
        return run([SSWCTL_BIN, "-s", self.socket, *args], check=check)

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

    def client(self):
        """A raw control-socket connection: one line out, one JSON reply back."""
        return ControlClient(self.socket)

    def cpu_seconds(self):
        """User + system CPU time the process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


class ControlClient:
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

    def close(self):
        self.sock.close()
