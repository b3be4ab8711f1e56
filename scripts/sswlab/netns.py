"""Network namespaces, veth pairs and bridges that a test creates and always removes.

Every name carries a per-run prefix so that concurrent runs never collide, and a Topology
removes exactly what it created (namespaces, and with them their links) on close, also
when the test fails. Nothing is ever configured in the root namespace.
"""

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time

from .eal import remove_eal_files


class CommandError(RuntimeError):
    """A command run with check=True exited with a status other than 0."""


def run(cmd, check=True, timeout=60, capture=True, input=None, cwd=None):
    """Runs a command (a list or a shell string) in directory cwd, returns CompletedProcess.
    Raises CommandError when check and it fails, subprocess.TimeoutExpired after timeout s."""
    shell = isinstance(cmd, str)
    res = subprocess.run(cmd, shell=shell, text=True, timeout=timeout, input=input, cwd=cwd,
                         stdout=subprocess.PIPE if capture else None,
                         stderr=subprocess.PIPE if capture else None)
    if check and res.returncode != 0:
        raise CommandError(f"command failed ({res.returncode}): {cmd}\n"
                           f"stdout: {res.stdout}\nstderr: {res.stderr}")
    return res


def cpu_seconds(pid):
    """User + system CPU time a process (all its threads) has used so far, in seconds; None
    once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Namespace:
    def __init__(self, topo, name):
        self.topo = topo
        self.name = name

    def argv(self, *cmd):
        return ["ip", "netns", "exec", self.name, *cmd]

    def run(self, cmd, check=True, timeout=60, input=None):
        """Runs cmd (list, or a string split like a shell would) inside the namespace."""
        if isinstance(cmd, str):
            cmd = shlex.split(cmd)
        return run(self.argv(*cmd), check=check, timeout=timeout, input=input)

    def popen(self, cmd, **kw):
        """Starts cmd inside the namespace (Topology.popen)."""
        if isinstance(cmd, str):
            cmd = shlex.split(cmd)
        return self.topo.popen(self.argv(*cmd), **kw)

    def mac(self, ifname):
        out = self.run(["cat", f"/sys/class/net/{ifname}/address"]).stdout.strip()
        return out

    def link_stats(self, ifname):
        """(rx_packets, tx_packets) of an interface."""
        base = f"/sys/class/net/{ifname}/statistics"
        rx = int(self.run(["cat", f"{base}/rx_packets"]).stdout)
        tx = int(self.run(["cat", f"{base}/tx_packets"]).stdout)
        return rx, tx

    def neigh(self, ip, ifname=None):
        """The lladdr and state of ip in this namespace's neighbour table, or (None, None)."""
        cmd = ["ip", "neigh", "show", ip]
        if ifname:
            cmd += ["dev", ifname]
        out = self.run(cmd).stdout
        m = re.search(r"lladdr (\S+) .*?(\S+)\s*$", out.strip().splitlines()[0]) if out.strip() else None
        if not m:
            return None, (out.split()[-1] if out.strip() else None)
        return m.group(1), m.group(2)


class Topology:
    """Owns namespaces, processes and temporary directories; close() removes all of them
    (the directories stay when SSW_KEEP_TMP is set, for a look at router logs)."""

    def __init__(self, tag="t"):
        self.prefix = f"ssw{os.getpid() % 100000}{tag}-"
        self.namespaces = []
        self.processes = []
        self.tmpdirs = []
        self.links = 0
        self.closed = False

    # -- building --
    def tmpdir(self, prefix):
        """A new directory under /tmp, removed by close()."""
        d = tempfile.mkdtemp(prefix=prefix)
        self.tmpdirs.append(d)
        return d

    def ns(self, short):
        name = self.prefix + short
        # `ip netns exec` mounts /etc/netns/NAME/ over /etc: an empty resolv.conf keeps every
        # DNS query inside the namespace (to its own loopback), never out through a router.
        os.makedirs(f"/etc/netns/{name}", exist_ok=True)
        with open(f"/etc/netns/{name}/resolv.conf", "w") as f:
            f.write("# no name service in test namespaces\n")
        run(["ip", "netns", "add", name])
        ns = Namespace(self, name)
        self.namespaces.append(ns)
        ns.run("ip link set lo up")
        # No IPv6: keeps router segments free of ND/MLD chatter the tests do not need.
        ns.run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
        ns.run("sysctl -qw net.ipv6.conf.default.disable_ipv6=1")
        return ns

    def veth(self, ns_a, if_a, ns_b, if_b, mac_a=None, mac_b=None, host_side=None):
        """A veth pair between two namespaces, both ends up. host_side lists the namespaces
        whose end is a Linux host (tx checksum offload turned off: af_packet reads partial
        checksums otherwise)."""
        self.links += 1
        tmp_a = f"v{os.getpid() % 100000}a{self.links}"[:15]
        tmp_b = f"v{os.getpid() % 100000}b{self.links}"[:15]
        run(["ip", "link", "add", tmp_a, "netns", ns_a.name, "type", "veth",
             "peer", "name", tmp_b, "netns", ns_b.name])
        ns_a.run(["ip", "link", "set", "dev", tmp_a, "name", if_a])
        ns_b.run(["ip", "link", "set", "dev", tmp_b, "name", if_b])
        for ns, ifn, mac in ((ns_a, if_a, mac_a), (ns_b, if_b, mac_b)):
            if mac:
                ns.run(["ip", "link", "set", "dev", ifn, "address", mac])
            ns.run(["ip", "link", "set", "dev", ifn, "up"])
            ns.run(["ethtool", "-K", ifn, "tx", "off"], check=False)

    def popen(self, cmd, **kw):
        """Starts cmd (a list, or a string split like a shell would) in the root namespace,
        with further subprocess.Popen arguments (stdout and stderr default to /dev/null);
        stop() or close() ends it."""
        if isinstance(cmd, str):
            cmd = shlex.split(cmd)
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        p = subprocess.Popen(cmd, **kw)
        self.processes.append(p)
        return p

    def bridge(self, ns, name, members=()):
        ns.run(["ip", "link", "add", name, "type", "bridge", "stp_state", "0",
                "forward_delay", "0"])
        ns.run(["ip", "link", "set", "dev", name, "up"])
        for m in members:
            ns.run(["ip", "link", "set", "dev", m, "master", name])

    # -- cleanup --
    def stop(self, p, timeout=5):
        """Ends one process started by popen, by its PID: SIGTERM, then SIGKILL if it has not
        exited after timeout seconds. Returns its exit status (-N: ended by signal N)."""
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass  # unkillable for now (uninterruptible sleep): leave it
        if p in self.processes:
            self.processes.remove(p)
        return p.returncode

    def close(self):
        if self.closed:
            return
        self.closed = True
        for p in reversed(list(self.processes)):
            self.stop(p)
        self.remove_eal_files()
        for ns in reversed(self.namespaces):
            run(["ip", "netns", "del", ns.name], check=False)
            shutil.rmtree(f"/etc/netns/{ns.name}", ignore_errors=True)
        if not os.environ.get("SSW_KEEP_TMP"):
            for d in self.tmpdirs:
                shutil.rmtree(d, ignore_errors=True)

    def remove_eal_files(self, file_prefix=None):
        """Removes what this topology's DPDK processes left behind (sswlab.eal: hugepage
        files, runtime directories), those of one --file-prefix or, by default, of all of
        them: every --file-prefix here starts with this topology's prefix. Only once the
        processes have ended: close() does it after stopping them all."""
        if file_prefix is None:
            remove_eal_files(self.prefix)
        else:
            remove_eal_files(file_prefix, exact=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_until(pred, timeout=10.0, interval=0.05, what="condition", ignore=()):
    """Polls pred() until it returns a true value, which it returns; AssertionError after
    timeout seconds. ignore: exception types that pred may raise while the condition is not
    met yet (e.g. OSError of a socket not listening yet); the last one is named on time-out."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            v = pred()
        except ignore as e:
            v, last_error = None, e
        if v:
            return v
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)
