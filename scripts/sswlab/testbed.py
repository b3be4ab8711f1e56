"""The paper's testbed (Figure 4) plus R4, in network namespaces, with four real ssw-router
processes (Testbed) or Linux's own forwarding (kernel_testbed.KernelTestbed) and Linux hosts
(conf/testbed/ holds the routers' configurations and the orchestrator's topology).

          E 203.0.113.10
               |  (segment "external", bridge br203)
            [R1 edge] --core-- [R2] -- segment "foreign"  192.168.10.0/24: B .2
                      --core-- [R3] -- segment "home"     192.168.11.0/24: D .2, C .3, V .4
                      --core-- [R4] -- segment "foreign2" 192.168.12.0/24: G .2

The segments are Linux bridges in one namespace ("lan"). The VMs C and V are namespaces with
their own MAC, address /24 and default gateway 192.168.11.1; a live migration is emulated by
moving the VM's link from one segment's bridge to another's (its address, MAC and routes
untouched), then running `sswctl migrate` (or, on Linux, rewriting the routers' rules).

Real VMs too: add_guest() boots a QEMU guest (sswlab.guest) whose tap is a port of a
segment's bridge, and live_migrate() moves it to another segment's bridge by a real QEMU live
migration. How the routers learn of the move is the caller's business (sswctl, etcd, or the
VM's own announcements).
"""

import json
import os
import select
import subprocess
import time

from . import router as sswrouter
from .hosts import arping
from .etcd import Agent, EtcdCluster
from .guest import Guest
from .netns import Topology, run, wait_until
from .router import Router

CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../conf/testbed")
HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../conf/libvirt/qemu")

SEGMENTS = {  # name -> (bridge, router, router port index)
    "external": ("br203", "R1", 0),
    "foreign": ("br10", "R2", 1),
    "home": ("br11", "R3", 1),
    "foreign2": ("br12", "R4", 1),
}
CORE_LINKS = [("R1", 1, "R2", 0), ("R1", 2, "R3", 0), ("R1", 3, "R4", 0)]
HOSTS = {  # name -> (segment, address/len, gateway)
    "E": ("external", "203.0.113.10/24", "203.0.113.1"),
    "B": ("foreign", "192.168.10.2/24", "192.168.10.1"),
    "D": ("home", "192.168.11.2/24", "192.168.11.1"),
    "G": ("foreign2", "192.168.12.2/24", "192.168.12.1"),
    # The VMs: home addresses, they never change.
    "C": ("home", "192.168.11.3/24", "192.168.11.1"),
    "V": ("home", "192.168.11.4/24", "192.168.11.1"),
}
VMS = ("C", "V")
# Two vCPUs, four routers (they sleep when idle). R1, on every path between E and a segment
# and between segments, has a vCPU of its own; R2-R4 share the other, so a flow through R1
# and a segment router runs as a pipeline over both vCPUs. With R1 and R3 on one vCPU a 1 MB
# GET from C took 11.7-11.9 ms, with this 7.3-9.2 ms (ping E -> C 0.26-0.29 against
# 0.32-0.34 ms: one more cross-vCPU wake-up).
LCORES = {"R1": "1", "R2": "0", "R3": "0", "R4": "0"}
ROUTER_PORTS = {"R1": 4, "R2": 2, "R3": 2, "R4": 2}
# The management network of Testbed(mgmt_net=True): bridge "brm" in namespace "mgmt".
MGMT_PREFIX = "10.99.0"
MGMT_SSWCTL = f"{MGMT_PREFIX}.1"  # mgmt's own address, where sswctl and etcdctl run


def addr(host):
    return HOSTS[host][1].split("/")[0]


class TestbedBase:
    """The testbed's namespaces, segments, links and hosts, whatever forwards between the
    routers' ports: Testbed runs ssw-router there, kernel_testbed.KernelTestbed Linux's own
    forwarding. A subclass starts its routers (_start_routers, given each router's interface
    names in port order) and updates them when a VM moves (_relocate). tag: the Topology's tag,
    part of every namespace's name (runs with different tags never collide)."""

    def __init__(self, tag):
        self.guests = {}  # name -> sswlab.guest.Guest (add_guest): where it runs now
        self.migrations = 0  # live migrations started: numbers the destinations' names
        self.topo = Topology(tag)
        self.dir = self.topo.tmpdir("ssw-testbed-")
        self.hosts = {}
        self.segment_of = {}  # VM (namespace or guest) -> segment it is attached to now
        try:
            self._start_routers(self._build())
        except Exception:
            self.close()
            raise

    # -- construction --
    def _build(self):
        """Namespaces, bridges, veths and hosts; returns {router: its interfaces, in port order}."""
        t = self.topo
        self.lan = t.ns("lan")
        for seg, (br, _, _) in SEGMENTS.items():
            t.bridge(self.lan, br)
        rns = {name: t.ns(name.lower()) for name in ROUTER_PORTS}
        self.router_ns = rns
        ports = {name: [None] * n for name, n in ROUTER_PORTS.items()}
        for a, pa, b, pb in CORE_LINKS:
            ia, ib = f"p{pa}", f"p{pb}"
            t.veth(rns[a], ia, rns[b], ib)
            ports[a][pa] = ia
            ports[b][pb] = ib
        for seg, (br, rname, p) in SEGMENTS.items():
            ifn = f"p{p}"
            t.veth(rns[rname], ifn, self.lan, f"{rname.lower()}-{seg}"[:15])
            self.lan.run(["ip", "link", "set", "dev", f"{rname.lower()}-{seg}"[:15], "master", br])
            ports[rname][p] = ifn
        for h, (seg, a, gw) in HOSTS.items():
            ns = t.ns(h.lower())
            self.hosts[h] = ns
            t.veth(ns, "eth0", self.lan, self._lan_port(h))
            ns.run(["ip", "addr", "add", a, "dev", "eth0"])
            ns.run(["ip", "route", "add", "default", "via", gw])
            self._attach(h, seg)
        return ports

    def _start_routers(self, ports):
        raise NotImplementedError

    def _lan_port(self, host):
        return f"h-{host.lower()}"

    def _attach(self, host, seg):
        port = self._lan_port(host)
        self.lan.run(["ip", "link", "set", "dev", port, "nomaster"])
        self.lan.run(["ip", "link", "set", "dev", port, "master", SEGMENTS[seg][0]])
        self.segment_of[host] = seg

    # -- VM moves --
    def move(self, vm, seg, mode="optimized", announce_self=True):
        """Live-migrates VM to segment seg (mode: optimized or triangle; "home" returns it):
        the link moves, then the routers are updated. The VM then announces itself, as
        hypervisors make a migrated guest do. Returns the orchestrator's JSON result (ok,
        data: vm, from, to, care_of, mode; elapsed_ms)."""
        self._attach(vm, seg)
        out = self._relocate(vm, seg, mode)
        if announce_self:
            arping(self.hosts[vm], "eth0", addr(vm), count=1, unsolicited=True, timeout=1)
        return out

    def _relocate(self, vm, seg, mode):
        raise NotImplementedError

    def stop_routers(self):
        """Stops the routers' processes; False when one did not exit cleanly."""
        return True

    # -- real VMs --
    def add_guest(self, name, segment="home", address="192.168.11.5/24",
                  gateway="192.168.11.1", mac="52:54:00:00:11:05", memory_mib=128,
                  image=None, timeout=60):
        """Boots a QEMU guest (sswlab.guest.Guest) with address (A.B.C.D/len), gateway and
        MAC, its tap a port of segment's bridge in namespace lan; returns it once its services
        are up (ping, HTTP on guest.HTTP_PORT, TCP echo on guest.ECHO_PORT). It is
        self.guests[name] and self.segment_of[name], and its address is one of the
        orchestrator's VMs, under name (_register_guest). close() ends it."""
        if name in self.guests or name in self.hosts:
            raise ValueError(f"{name} is already a host or guest of this testbed")
        guest = Guest(self.lan, SEGMENTS[segment][0], address, gateway, mac,
                      name=name.lower(), image=image, memory_mib=memory_mib)
        try:
            guest.wait_ready(timeout)
            self._register_guest(name, address, mac)
        except BaseException:
            guest.close()
            raise
        self.guests[name] = guest
        self.segment_of[name] = segment
        return guest

    def _register_guest(self, name, address, mac):
        """Makes the guest's address known to the control plane (a subclass's business)."""

    def live_migrate(self, name, segment, timeout=120):
        """Live-migrates guest name to segment: a destination QEMU whose tap is on the
        segment's bridge (in lan), QMP migrate, and once it completed the source quits; the
        destination is then self.guests[name]. The routers are not told: the caller decides
        how they learn of the move (sswctl, etcd, the VM's announcements).

        Returns the result of Guest.migrate (status: completed, failed or cancelled;
        total_time and downtime: ms, as QEMU measures them; error; info) and: from, to
        (segments); started and completed (time.monotonic() when the migrate command was
        sent, and when query-migrate first said it was over: polled every 50 ms, so up to
        50 ms late); switchover_at (completed - downtime/1000: about when the guest stopped
        on the source); source_exit (the source QEMU's exit status). A migration that did not
        complete leaves the source running, the destination ended."""
        src = self.guests[name]
        self.migrations += 1
        dst = src.destination(SEGMENTS[segment][0], name=f"{name.lower()}-{self.migrations}")
        try:
            started = time.monotonic()
            res = src.migrate(dst, timeout=timeout)
            completed = time.monotonic()
        except BaseException:
            dst.close()
            raise
        res.update({"from": self.segment_of[name], "to": segment, "started": started,
                    "completed": completed, "switchover_at": None, "source_exit": None})
        if res["status"] != "completed":
            dst.close()
            return res
        if isinstance(res.get("downtime"), (int, float)):
            res["switchover_at"] = completed - res["downtime"] / 1000.0
        self.guests[name] = dst
        self.segment_of[name] = segment
        res["source_exit"] = src.quit()
        return res

    # -- captures --
    def capture(self, ns, ifname, name, timeout=10.0):
        """Starts tcpdump on ns/ifname (IPv4 only) and returns once it captures (a handle for
        read_capture). Traffic sent before tcpdump says it is listening is not captured, and
        on a loaded machine that takes more than a second. --immediate-mode: without it,
        libpcap hands packets over a block at a time, after up to a second, and tcpdump
        stopped before that writes none of the block (measured: "3 packets received by
        filter", "0 packets captured")."""
        path = os.path.join(self.dir, f"{name}.pcap")
        # Unbuffered bytes: select() sees what tcpdump wrote, none of it hidden in a buffer.
        proc = ns.popen(["tcpdump", "-i", ifname, "-n", "--immediate-mode", "-U", "-w", path,
                         "ip"], stderr=subprocess.PIPE, bufsize=0)
        fd = proc.stderr.fileno()
        deadline = time.monotonic() + timeout
        said = b""
        while b"listening on" not in said:
            left = deadline - time.monotonic()
            chunk = os.read(fd, 4096) if left > 0 and select.select([fd], [], [], left)[0] else b""
            if not chunk:  # timed out, or tcpdump exited
                proc.kill()
                proc.wait()
                raise RuntimeError(f"tcpdump on {ifname} did not start capturing (it exited, "
                                   f"or said nothing of it for {timeout:.0f} s): "
                                   f"{said.decode(errors='replace').strip()}")
            said += chunk
        return proc, path

    def close(self):
        for g in list(self.guests.values()):
            try:
                g.close()
            except Exception:
                pass  # topo.close() ends its process anyway
        self.topo.close()


class Testbed(TestbedBase):
    """The testbed with four ssw-router processes (router_bin: another ssw-router than
    sswlab.router's, router_args: further arguments for each), moves by `sswctl migrate`.
    lcores: {router: EAL lcores} in place of LCORES for some; args_of: {router: [arguments]}
    after router_args for some (e.g. a router of its own core in --rx-mode poll).

    control: "local", sswctl's own orchestrator talks to the routers' sockets; "etcd", the
    desired state is in an etcd cluster of etcd_members members started here (etcd_tls: https
    with client certificates), an ssw-agent per router (agent_args: further arguments for each)
    applies it, and sswctl talks to etcd only.

    mgmt_net (with control "etcd"): the members run in namespace "mgmt" on addresses of its
    bridge (MGMT_PREFIX.11, .12, ...), sswctl and etcdctl run there too (MGMT_SSWCTL), and
    each agent runs in a namespace of its own (agent_ns[router], MGMT_PREFIX.21, .22, ...
    on eth0, a port of that bridge), so that a test can cut one agent off from etcd with
    nftables in its namespace. The agents reach their routers through the control sockets,
    which are files and work across namespaces. Without it all of them run in the root
    namespace and etcd listens on 127.0.0.1."""

    def __init__(self, router_args=(), tag="tb", router_bin=None, control="local",
                 etcd_members=1, etcd_tls=False, agent_args=(), mgmt_net=False, lcores=None,
                 args_of=None):
        self.router_args = list(router_args)
        self.lcores = dict(LCORES, **(lcores or {}))
        self.args_of = dict(args_of or {})
        self.router_bin = router_bin
        self.routers = {}
        self.control = control
        self.etcd_members, self.etcd_tls = etcd_members, etcd_tls
        self.agent_args = list(agent_args)
        self.mgmt_net = mgmt_net
        self.mgmt = None
        self.agent_ns = {}
        self.etcd = None
        self.agents = {}
        super().__init__(tag)

    def _start_routers(self, ports):
        t = self.topo
        # The topology, with the sockets of this run.
        with open(os.path.join(CONF, "topology.json")) as f:
            topo = json.load(f)
        for name, r in topo["routers"].items():
            r["socket"] = os.path.join(self.dir, f"{name.lower()}.sock")
        topo["state"] = os.path.join(self.dir, "vm-state.json")
        self.topology_path = os.path.join(self.dir, "topology.json")
        with open(self.topology_path, "w") as f:
            json.dump(topo, f, indent=2)
        for name in ROUTER_PORTS:
            self.routers[name] = Router(
                t, self.router_ns[name], name.lower(), ports[name], lcores=self.lcores[name],
                config_path=os.path.join(CONF, f"{name.lower()}.conf"),
                socket=topo["routers"][name]["socket"],
                extra_args=self.router_args + list(self.args_of.get(name, ())),
                binary=self.router_bin)
        for r in self.routers.values():
            r.start()
        if self.control == "etcd":
            self._start_control_plane()

    def _start_control_plane(self):
        """etcd, the topology in it, an agent per router; returns once every router holds
        the desired state."""
        members = {}
        if self.mgmt_net:
            members = dict(ns=self._build_mgmt_net(),
                           hosts=[f"{MGMT_PREFIX}.{11 + i}" for i in range(self.etcd_members)])
            for h in members["hosts"]:
                self.mgmt.run(["ip", "addr", "add", f"{h}/24", "dev", "brm"])
        self.etcd = EtcdCluster(n=self.etcd_members, tls=self.etcd_tls, topo=self.topo, **members)
        self.sswctl("topology", "put", self.topology_path, check=True)
        for name, r in self.routers.items():
            self.agents[name] = Agent(self.topo, self.etcd, name, r.socket,
                                      extra_args=self.agent_args,
                                      ns=self.agent_ns.get(name)).start()
        self.wait_agents_in_sync()

    def _build_mgmt_net(self):
        """Namespace "mgmt" with bridge brm (MGMT_SSWCTL/24), and a namespace per agent on it;
        returns mgmt."""
        t = self.topo
        self.mgmt = t.ns("mgmt")
        t.bridge(self.mgmt, "brm")
        self.mgmt.run(["ip", "addr", "add", f"{MGMT_SSWCTL}/24", "dev", "brm"])
        for i, name in enumerate(self.routers):
            ns = t.ns(f"agent-{name.lower()}")
            port = f"ag-{name.lower()}"
            t.veth(ns, "eth0", self.mgmt, port)
            self.mgmt.run(["ip", "link", "set", "dev", port, "master", "brm"])
            ns.run(["ip", "addr", "add", f"{MGMT_PREFIX}.{21 + i}/24", "dev", "eth0"])
            self.agent_ns[name] = ns
        return self.mgmt

    def wait_agents_in_sync(self, routers=None, timeout=30):
        """Waits until the agents of `routers` (default: all) hold the newest desired state."""
        def in_sync():
            rows = self.orchestrate("agents")["data"]["routers"]
            return all(r["agent"] == "in sync" for r in rows
                       if routers is None or r["router"] in routers)
        wait_until(in_sync, timeout=timeout, interval=0.1, what="agents in sync",
                   ignore=(RuntimeError, KeyError))

    # -- VM moves --
    def sswctl_argv(self, *args, cert="client"):
        """The command line of `sswctl ARGS` on this testbed's control plane (in namespace
        mgmt with mgmt_net; cert: which client certificate of a TLS cluster, None for none)."""
        # sswrouter.SSWCTL_BIN read now: the benchmark driver points it at its own build.
        where = (["-t", self.topology_path] if self.control == "local"
                 else self.etcd.client_args(cert))
        argv = [sswrouter.SSWCTL_BIN, *where, *args]
        return self.mgmt.argv(*argv) if self.mgmt else argv

    def sswctl(self, *args, check=False, cert="client", timeout=60):
        return run(self.sswctl_argv(*args, cert=cert), check=check, timeout=timeout)

    def orchestrate(self, *args):
        """Runs an orchestrator command (--json); returns its JSON result."""
        res = self.sswctl("--json", *args)
        try:
            return json.loads(res.stdout)
        except json.JSONDecodeError:
            raise RuntimeError(f"sswctl {' '.join(args)}: {res.stdout} {res.stderr}")

    def _register_guest(self, name, address, mac):
        """Adds the guest to the "vms" of this run's topology with its MAC (conf/README.md:
        what `sswctl migrate --on-arrival` needs), and with control "etcd" puts the topology
        in etcd again."""
        with open(self.topology_path) as f:
            topo = json.load(f)
        topo.setdefault("vms", {})[name] = {"address": address.split("/")[0], "mac": mac}
        with open(self.topology_path, "w") as f:
            json.dump(topo, f, indent=2)
        if self.control == "etcd":
            self.sswctl("topology", "put", self.topology_path, check=True)
            self.wait_agents_in_sync()

    def migrate_on_arrival(self, name, seg, mode="optimized", timeout=40):
        """Guest name's move to segment seg as a datacenter does it (control "etcd"): the
        libvirt hook stages it (conf/libvirt/qemu, run as libvirt runs it on the destination
        host before an incoming migration: DOMAIN migrate begin -, the domain XML on stdin),
        QEMU live-migrates the guest, and the guest's own RARP at seg's router switches the
        move. Returns live_migrate()'s result with "where": sswctl where's data once the move
        is done (its "arrived" says at which router and how)."""
        guest = self.guests[name]
        conf = os.path.join(self.dir, f"hook-{seg}.json")
        with open(conf, "w") as f:
            json.dump({"etcd_config": self.etcd.config_file(os.path.join(self.dir, "etcd.json")),
                       "subnet": seg, "mode": mode, "sswctl": sswrouter.SSWCTL_BIN,
                       "arrival_timeout_ms": 30000,
                       "log": os.path.join(self.dir, "libvirt-hook.log")}, f)
        domain = (f"<domain type='qemu'><name>{name.lower()}</name><devices>"
                  f"<interface type='bridge'><mac address='{guest.mac}'/>"
                  f"<source bridge='{SEGMENTS[seg][0]}'/><model type='virtio'/></interface>"
                  f"</devices></domain>")
        hook = subprocess.run([HOOK, name.lower(), "migrate", "begin", "-"], input=domain,
                              capture_output=True, text=True, timeout=30,
                              env=dict(os.environ, SSW_HOOK_CONFIG=conf))
        if hook.returncode != 0 or hook.stdout:
            raise RuntimeError(f"the libvirt hook refused {name}'s migration to {seg} "
                               f"({hook.returncode}): {hook.stderr} {hook.stdout}")
        res = self.live_migrate(name, seg)
        if res["status"] != "completed":
            raise RuntimeError(f"QEMU's migration of {name} to {seg}: {res}")
        wait_until(lambda: self.where(name)["data"]["phase"] == "done", timeout=timeout,
                   interval=0.05, what=f"{name}'s move to {seg} done")
        res["where"] = self.where(name)["data"]
        return res

    def _relocate(self, vm, seg, mode):
        out = self.orchestrate("return", vm) if seg == "home" else self.orchestrate(
            "migrate", vm, "--to", seg, "--mode", mode)
        if not out["ok"]:
            raise RuntimeError(f"move of {vm} to {seg} failed: {out.get('error')}\n{out.get('log')}")
        return out

    def where(self, vm):
        return self.orchestrate("where", vm)

    def stop_routers(self):
        codes = [a.stop() for a in self.agents.values()]
        codes += [r.stop() for r in self.routers.values()]
        return all(c == 0 for c in codes)
