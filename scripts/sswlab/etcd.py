"""Real etcd members and ssw-agents for tests, the demo and benchmarks (docs/DESIGN.md §6.2).

EtcdCluster starts 1 or 3 members of Debian's etcd on loopback ports it picks (never the
2379/2380 of a system member), or on addresses of a network namespace given to it, data in
tmpfs, optionally with TLS and client certificates made with openssl; it ends only the
processes it started, by PID. Agent runs one ssw-agent for one router."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile

from .netns import run, wait_until
from .router import _binary

ETCD_BIN = shutil.which("etcd") or "/usr/bin/etcd"
ETCDCTL_BIN = shutil.which("etcdctl") or "/usr/bin/etcdctl"
AGENT_BIN = _binary("SSW_AGENT", "ssw-agent")


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (the kernel's choice; none of etcd's defaults)."""
    socks, ports = [], []
    while len(ports) < n:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        socks.append(s)
        if port not in (2379, 2380):
            ports.append(port)
    for s in socks:
        s.close()
    return ports


def make_certs(d, ips=("127.0.0.1",)):
    """A CA, a server certificate for the addresses ips and a client certificate, in d; and a
    second CA with a client certificate the members must refuse. Returns their paths."""
    def ossl(*args):
        run(["openssl", *args], timeout=60)

    paths = {}
    for ca in ("ca", "other-ca"):
        key, crt = os.path.join(d, f"{ca}.key"), os.path.join(d, f"{ca}.pem")
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             f"/CN=ssw test {ca}", "-keyout", key, "-out", crt)
        paths[ca] = crt
        paths[ca + "-key"] = key
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName={','.join('IP:' + ip for ip in ips)}\n"
                "extendedKeyUsage=serverAuth,clientAuth\n")
    cext = os.path.join(d, "client.ext")
    with open(cext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name, ca, extfile in (("server", "ca", ext), ("client", "ca", cext),
                              ("rogue", "other-ca", cext)):
        key, csr, crt = (os.path.join(d, f"{name}.{x}") for x in ("key", "csr", "pem"))
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=ssw {name}",
             "-keyout", key, "-out", csr)
        ossl("x509", "-req", "-in", csr, "-CA", paths[ca], "-CAkey", paths[ca + "-key"],
             "-CAcreateserial", "-days", "2", "-extfile", extfile, "-out", crt)
        paths[name], paths[name + "-key"] = crt, key
    return paths


class EtcdCluster:
    """n members (1 or 3) of one etcd cluster, on 127.0.0.1 unless ns. tls: https with client
    certificates (self.certs). topo: a netns.Topology whose temporary directories and
    processes list this one joins (for cleanup), or None.

    ns: a netns.Namespace (of topo) to run the members and etcdctl in, with hosts[i] one of
    its addresses for member i (client port 2379, peer port 2380: the namespace has no other
    etcd); clients must then run in a namespace that reaches those addresses."""

    def __init__(self, n=1, tls=False, name="ssw", topo=None, ns=None, hosts=None):
        self.n = n
        self.tls = tls
        self.topo = topo
        self.ns = ns
        if ns is not None and (topo is None or not hosts or len(hosts) != n):
            raise ValueError("a namespace needs topo and one address per member (hosts)")
        base = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.dir = tempfile.mkdtemp(prefix="ssw-etcd-", dir=base)  # tmpfs: no disk waits
        if topo:
            topo.tmpdirs.append(self.dir)
        self.hosts = list(hosts) if ns is not None else ["127.0.0.1"] * n
        self.certs = make_certs(self.dir, sorted(set(self.hosts))) if tls else {}
        if ns is not None:
            self.client_ports, self.peer_ports = [2379] * n, [2380] * n
        else:
            ports = free_ports(2 * n)
            self.client_ports, self.peer_ports = ports[:n], ports[n:]
        scheme = "https" if tls else "http"
        self.names = [f"{name}{i}" for i in range(n)]
        self.client_urls = [f"{scheme}://{h}:{p}" for h, p in zip(self.hosts, self.client_ports)]
        self.peer_urls = [f"http://{h}:{p}" for h, p in zip(self.hosts, self.peer_ports)]
        self.initial = ",".join(f"{nm}={u}" for nm, u in zip(self.names, self.peer_urls))
        self.procs = [None] * n
        self.logs = [os.path.join(self.dir, f"{nm}.log") for nm in self.names]
        try:
            for i in range(n):
                self.start(i, new=True)
            self.wait_healthy()
        except Exception:
            self.close()
            raise

    # -- members --
    def argv(self, i, new):
        data = os.path.join(self.dir, f"{self.names[i]}.data")
        a = [ETCD_BIN, "--name", self.names[i], "--data-dir", data,
             "--listen-client-urls", self.client_urls[i],
             "--advertise-client-urls", self.client_urls[i],
             "--listen-peer-urls", self.peer_urls[i],
             "--initial-advertise-peer-urls", self.peer_urls[i],
             "--initial-cluster", self.initial,
             "--initial-cluster-state", "new" if new else "existing",
             "--initial-cluster-token", os.path.basename(self.dir),
             "--heartbeat-interval", "50", "--election-timeout", "500",
             "--unsafe-no-fsync", "--logger", "zap", "--log-outputs", self.logs[i],
             "--listen-metrics-urls", "",  # none: no extra port
             ]
        if self.tls:
            a += ["--cert-file", self.certs["server"], "--key-file", self.certs["server-key"],
                  "--trusted-ca-file", self.certs["ca"], "--client-cert-auth"]
        return a

    def start(self, i, new=False):
        env = dict(os.environ, GOMAXPROCS="1")
        if self.ns is not None:  # `ip netns exec` execs etcd: the PID is the member's
            self.procs[i] = self.ns.popen(self.argv(i, new), env=env)
            return
        p = subprocess.Popen(self.argv(i, new), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
        self.procs[i] = p
        if self.topo:
            self.topo.processes.append(p)

    def kill(self, i, sig=signal.SIGKILL):
        p = self.procs[i]
        if p and p.poll() is None:
            p.send_signal(sig)
            p.wait(timeout=10)
        if self.topo and p in self.topo.processes:
            self.topo.processes.remove(p)
        self.procs[i] = None

    def restart(self, i):
        self.kill(i)
        self.start(i)

    # -- clients --
    @property
    def endpoints(self):
        return ",".join(self.client_urls)

    def client_args(self, cert="client"):
        """sswctl/ssw-agent flags that reach this cluster (cert: which client certificate,
        None for none)."""
        a = ["--endpoints", self.endpoints]
        if self.tls:
            a += ["--cacert", self.certs["ca"]]
            if cert:
                a += ["--cert", self.certs[cert], "--key", self.certs[cert + "-key"]]
        return a

    def config_file(self, path):
        """Writes an etcd config file (conf/agent.json's format) for this cluster."""
        c = {"endpoints": self.client_urls}
        if self.tls:
            c.update(ca_file=self.certs["ca"], cert_file=self.certs["client"],
                     key_file=self.certs["client-key"])
        with open(path, "w") as f:
            json.dump(c, f)
        return path

    def etcdctl(self, *args, members=None, check=True, timeout=30):
        eps = ",".join(self.client_urls[i] for i in (members or range(self.n)))
        a = [ETCDCTL_BIN, "--endpoints", eps, "--dial-timeout", "2s", "--command-timeout", "5s"]
        if self.tls:
            a += ["--cacert", self.certs["ca"], "--cert", self.certs["client"],
                  "--key", self.certs["client-key"]]
        if self.ns is not None:
            return self.ns.run(a + list(args), check=check, timeout=timeout)
        return run(a + list(args), check=check, timeout=timeout)

    def status(self):
        """Per live member: its endpoint status (leader, revision...), from etcdctl."""
        res = self.etcdctl("endpoint", "status", "-w", "json", check=False)
        try:
            return json.loads(res.stdout)
        except json.JSONDecodeError:
            return []

    def leader(self):
        """The index of the leader, or None."""
        for s in self.status():
            if s["Status"]["leader"] == s["Status"]["header"]["member_id"]:
                return self.client_urls.index(s["Endpoint"])
        return None

    def wait_healthy(self, timeout=30):
        def healthy():
            live = [i for i in range(self.n) if self.procs[i] and self.procs[i].poll() is None]
            if len(live) < self.n:
                dead = next(i for i in range(self.n) if i not in live)
                raise RuntimeError(f"etcd member {self.names[dead]} exited:\n" +
                                   self.log_tail(dead))
            return self.etcdctl("endpoint", "health", check=False).returncode == 0
        wait_until(healthy, timeout=timeout, interval=0.2, what="etcd healthy")

    def log_tail(self, i, lines=20):
        try:
            with open(self.logs[i]) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def close(self):
        for i in range(self.n):
            self.kill(i)
        if not self.topo and not os.environ.get("SSW_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)


class Agent:
    """One ssw-agent driving router `name` through `socket`, reaching `etcd` (EtcdCluster)."""

    def __init__(self, topo, etcd, name, socket, extra_args=(), ns=None):
        self.topo, self.etcd, self.name, self.socket = topo, etcd, name, socket
        self.ns = ns
        self.log_path = os.path.join(topo.tmpdir(f"ssw-agent-{name}-"), "agent.log")
        self.argv = [AGENT_BIN, "--router", name, "--socket", socket, *etcd.client_args(),
                     *extra_args]
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "a")
        launch = self.ns.popen if self.ns else self.topo.popen
        self.proc = launch(self.argv, stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def stop(self, timeout=10):
        if self.proc is None:
            return None
        code = self.topo.stop(self.proc, timeout=timeout)
        self.log.close()
        self.proc = None
        return code

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        return self.stop()

    def output(self):
        with open(self.log_path) as f:
            return f.read()
