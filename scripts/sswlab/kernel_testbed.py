"""The testbed of sswlab.testbed with Linux forwarding in the router namespaces instead of
ssw-router: the reference the paper's prototype was (Section V: netfilter and Linux's proxy
ARP), rebuilt with the rule semantics of docs/DESIGN.md §2. Same namespaces, links, hosts and
moves as Testbed; bench case table1 measures Table I on both.

A router is its namespace's kernel with the addresses, static routes and port roles of
conf/testbed/rN.conf (port N: the Nth interface in the testbed's port order), forwarding on,
rp_filter off (a moved VM sends from its home address on a foreign segment) and no ICMP
redirects (ssw's default). What a move changes on it:

- bindings: one nftables table `ssw` with three address maps. Before the route lookup
  (prerouting) `ip daddr set ip daddr map @before_route`; after it (postrouting), by egress
  port role, `ip saddr set ip saddr map @access_egress` or `@core_egress`. Stateless payload
  rewrites, no conntrack: the paper's iptables NAT translated per connection, and in triangle
  mode that loops replies to flows the VM started (docs/DESIGN.md §2.4). nft fixes the IPv4
  checksum and, through the pseudo-header, TCP's and UDP's (it does not rewrite the header
  that an ICMP error quotes).
- host routes: a local binding delivers M on its access port (`M/32 dev P`); at the home
  router M/32 follows M*'s route, which also makes the kernel proxy-answer for M there: it
  answers only for a target routed out of another interface than the one asking.
- proxy ARP: `ip neigh add proxy A dev P` entries, answered at once (proxy_delay 0).
- announcements: gratuitous ARP in bursts, as the ssw routers send them (GARP below).
"""

import ipaddress
import json
import os
import subprocess
import time
from dataclasses import dataclass, field

from .testbed import CONF, SEGMENTS, VMS, TestbedBase, addr

# A router's announcement: `count` bursts `interval` s apart of one ARP request per address,
# sender = target = the address (RFC 5227 §3; Linux updates an entry it has from one, even with
# arp_accept=0), broadcast from the port's MAC; the ARP sender MAC says where the address is
# reached (ssw's slow_path::send_garp). arping -U sends the same frame but only with the
# sending port's own MAC and one address per process; a return home announces neighbours with
# their own MACs, and a move 253 addresses. Prints a line once the first burst is out.
GARP = r"""
import socket, struct, sys, time
ifname, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
mine = s.getsockname()[4]
frames = []
for pair in sys.argv[4:]:
    ip, mac = pair.split("=")
    a, m = socket.inet_aton(ip), bytes.fromhex(mac.replace(":", ""))
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + m + a + bytes(6) + a
    frames.append(b"\xff" * 6 + mine + b"\x08\x06" + arp + bytes(18))
for i in range(count):
    if i:
        time.sleep(interval)
    for f in frames:
        s.send(f)
    if i == 0:
        print("sent", flush=True)
"""
GARP_COUNT, GARP_INTERVAL = 3, 0.1  # what the orchestrator asks of ssw (`arp announce`)


def read_conf(router):
    """The parts of conf/testbed/rN.conf Linux takes: [(address/len, port)],
    [(prefix, gateway)] and the set of core ports. Any other command is an error: this
    back-end would silently differ from ssw."""
    addresses, routes, core = [], [], set()
    with open(os.path.join(CONF, f"{router.lower()}.conf")) as f:
        for line in f:
            w = line.split("#", 1)[0].split()
            if len(w) == 5 and w[:2] == ["address", "add"] and w[3] == "port":
                addresses.append((w[2], int(w[4])))
            elif len(w) == 5 and w[:2] == ["route", "add"] and w[3] == "via":
                routes.append((w[2], w[4]))
            elif len(w) == 4 and w[0] == "port" and w[2:] == ["role", "core"]:
                core.add(int(w[1]))
            elif w:
                raise ValueError(f"{router}: '{line.strip()}': not expressible on Linux here")
    return addresses, routes, core


@dataclass
class RouterState:
    """What a move sets on one router: the three nft maps (address -> address), the VMs
    delivered here (home address -> interface: a host route), the home router's routes for
    its VMs away (prefix -> `ip route` arguments) and proxy-ARP entries ((address,
    interface))."""
    before_route: dict = field(default_factory=dict)
    access_egress: dict = field(default_factory=dict)
    core_egress: dict = field(default_factory=dict)
    local: dict = field(default_factory=dict)
    routes: dict = field(default_factory=dict)
    proxies: set = field(default_factory=set)

    MAPS = ("before_route", "access_egress", "core_egress")

    def all_routes(self):
        return {**{f"{m}/32": f"dev {i}" for m, i in self.local.items()}, **self.routes}


class KernelTestbed(TestbedBase):
    """The testbed with Linux routers (module docstring). move() and the moved VMs' care-of
    addresses (the first free one of the target subnet's care_of_pool) follow the
    orchestrator; its result has the orchestrator's shape."""

    def __init__(self, tag="kb"):
        with open(os.path.join(CONF, "topology.json")) as f:
            self.subnets = json.load(f)["subnets"]
        self.ifnames = {}  # router -> its interfaces, in port order
        self.core = {}  # router -> its core interfaces
        self.own = {}  # router -> {interface: its addresses there}
        self.held = {}  # router -> RouterState installed
        self.away = {}  # VM -> (segment, mode, care-of) while not at home
        super().__init__(tag)

    # -- construction --
    def _start_routers(self, ports):
        for name, ifnames in ports.items():
            addresses, routes, core = read_conf(name)
            ns = self.router_ns[name]
            self.ifnames[name] = ifnames
            self.core[name] = [ifnames[p] for p in sorted(core)]
            self.own[name] = {i: set() for i in ifnames}
            ns.run(["sysctl", "-qw", *self._sysctls(name)])
            for a, p in addresses:
                ns.run(["ip", "addr", "add", a, "dev", ifnames[p]])
                self.own[name][ifnames[p]].add(a.split("/")[0])
            for prefix, via in routes:
                ns.run(["ip", "route", "add", prefix, "via", via])
            ns.run(["nft", "-f", "-"], input=self._nft_table(name))
            self.held[name] = RouterState()

    def _access(self, name):
        return [i for i in self.ifnames[name] if i not in self.core[name]]

    def _sysctls(self, name):
        knobs = ["net.ipv4.ip_forward=1"]
        for i in ("all", "default", *self.ifnames[name]):
            knobs += [f"net.ipv4.conf.{i}.rp_filter=0", f"net.ipv4.conf.{i}.send_redirects=0"]
        knobs += [f"net.ipv4.neigh.{i}.proxy_delay=0" for i in self.ifnames[name]]
        # Learn a moved VM from its own announcement, as ssw does (Linux cannot tell a VM's
        # from another host's: it learns from every gratuitous ARP on the port).
        return knobs + [f"net.ipv4.conf.{i}.arp_accept=1" for i in self._access(name)]

    def _nft_table(self, name):
        access = self._access(name)
        maps = "".join(f"  map {m} {{ type ipv4_addr : ipv4_addr; }}\n" for m in RouterState.MAPS)
        egress = "".join(
            f"    oifname {{ {', '.join(json.dumps(i) for i in ifs)} }} "
            f"ip saddr set ip saddr map @{m}\n"
            for m, ifs in (("access_egress", access), ("core_egress", self.core[name])) if ifs)
        return (f"table ip ssw {{\n{maps}"
                "  chain prerouting { type filter hook prerouting priority raw; policy accept;\n"
                "    ip daddr set ip daddr map @before_route\n  }\n"
                "  chain postrouting { type filter hook postrouting priority srcnat; policy accept;\n"
                f"{egress}  }}\n}}\n")

    # -- what the routers hold --
    def _port(self, seg):
        """(router, interface) of a segment."""
        _, router, p = SEGMENTS[seg]
        return router, self.ifnames[router][p]

    def _home(self, vm):
        """The name of the VM's home subnet (its segment)."""
        return next(n for n, s in self.subnets.items()
                    if ipaddress.ip_address(addr(vm)) in ipaddress.ip_network(s["prefix"]))

    def _care_of(self, vm, seg):
        """The VM's care-of address on seg: the one it has there, else the first of the pool
        no other VM holds (what the orchestrator allocates)."""
        if vm in self.away and self.away[vm][0] == seg:
            return self.away[vm][2]
        first, last = (int(ipaddress.ip_address(a)) for a in self.subnets[seg]["care_of_pool"].split("-"))
        taken = {c for v, (_, _, c) in self.away.items() if v != vm}
        free = (str(ipaddress.ip_address(a)) for a in range(first, last + 1))
        care_of = next((a for a in free if a not in taken), None)
        if care_of is None:
            raise RuntimeError(f"subnet {seg} has no free care-of address (care_of_pool)")
        return care_of

    def _desired(self, name):
        """What router `name` must hold for the VMs away now (docs/DESIGN.md §2.1, §2.4)."""
        want = RouterState()
        for vm, (seg, mode, care_of) in self.away.items():
            m = addr(vm)
            home_router, home_if = self._port(self._home(vm))
            router, ifname = self._port(seg)
            if name == router:  # local binding, M's host route; keep-source in triangle mode
                want.before_route[care_of] = m
                want.local[m] = ifname
                if mode == "optimized":
                    want.core_egress[m] = care_of
            elif mode == "optimized" or name == home_router:  # forward binding
                want.before_route[m] = care_of
                want.access_egress[care_of] = m
            if name == home_router:
                want.routes[f"{m}/32"] = self._route_toward(name, care_of)
                want.proxies.add((m, home_if))
        for vm in (v for v in VMS if addr(v) in want.local):  # home prefixes, not VMs here (case 7)
            ifname = want.local[addr(vm)]
            net = ipaddress.ip_network(self.subnets[self._home(vm)]["prefix"])
            want.proxies |= {(str(a), ifname) for a in net.hosts()
                             if want.local.get(str(a)) != ifname}
        return want

    def _route_toward(self, name, dst):
        """`ip route` arguments of the way router `name` reaches dst now."""
        r = json.loads(self.router_ns[name].run(["ip", "-j", "route", "get", dst]).stdout)[0]
        return (f"via {r['gateway']} " if "gateway" in r else "") + f"dev {r['dev']}"

    def _apply(self, name, want):
        """Brings router `name` from what it holds to `want`: routes and proxy entries added
        first, then the maps replaced in one nft transaction, then what went away removed."""
        have, ns = self.held[name], self.router_ns[name]
        routes, had = want.all_routes(), have.all_routes()
        adds = [f"route replace {p} {spec}" for p, spec in routes.items() if had.get(p) != spec]
        adds += [f"neigh add proxy {a} dev {i}" for a, i in sorted(want.proxies - have.proxies)]
        dels = [f"route del {p}" for p in had if p not in routes]
        dels += [f"neigh del proxy {a} dev {i}" for a, i in sorted(have.proxies - want.proxies)]
        # A VM that left: forget its MAC there, as ssw does, so that no announcement of
        # this port carries it.
        dels += [f"neigh flush to {m} dev {i}" for m, i in have.local.items()
                 if want.local.get(m) != i]
        if adds:
            ns.run(["ip", "-batch", "-"], input="\n".join(adds) + "\n")
        nft = []
        for m in RouterState.MAPS:
            if getattr(want, m) != getattr(have, m):
                nft.append(f"flush map ip ssw {m}")
                pairs = ", ".join(f"{k} : {v}" for k, v in getattr(want, m).items())
                if pairs:
                    nft.append(f"add element ip ssw {m} {{ {pairs} }}")
        if nft:
            ns.run(["nft", "-f", "-"], input="\n".join(nft) + "\n")
        if dels:
            ns.run(["ip", "-batch", "-"], input="\n".join(dels) + "\n")
        self.held[name] = want
        return len(adds) + len(nft) + len(dels)

    # -- VM moves --
    def _relocate(self, vm, seg, mode):
        """Updates every router, in the orchestrator's make-before-break order (the new
        foreign router, the home router, the others, the old foreign router), then
        announces as it makes the ssw routers do."""
        t0 = time.monotonic()
        home = self._home(vm)
        old = self.away.get(vm, (home,))[0]
        care_of = None if seg == home else self._care_of(vm, seg)
        if care_of:
            self.away[vm] = (seg, mode, care_of)
        else:
            self.away.pop(vm, None)
        last = [self._port(old)[0]] if old != home else []
        order = dict.fromkeys([self._port(seg)[0], self._port(home)[0],
                               *(r for r in self.ifnames if r not in last), *last])
        log = []
        for name in order:
            n = self._apply(name, self._desired(name))
            log.append(f"{name}: {n} change(s) applied" if n else f"{name}: nothing to change")
        prefix, m = self.subnets[home]["prefix"], f"{addr(vm)}/32"
        what = [(seg, prefix), (home, m)] if seg != home else [(home, prefix)]
        if old not in (home, seg):
            what.append((old, m))
        for line, sender in [self._announce(*w) for w in what]:  # all started, then awaited
            log.append(line)
            if sender:
                self._first_burst(sender, line)
        return {"ok": True, "log": log, "elapsed_ms": (time.monotonic() - t0) * 1000,
                "data": {"vm": vm, "from": old, "to": seg, "care_of": care_of or "",
                         "mode": mode if care_of else "optimized"}}

    def where(self, vm):
        """Where the VM is and the binding each router holds for it, in the shape of the
        orchestrator's `where` (without epochs: here a move is one call of one process)."""
        home = self._home(vm)
        seg, mode, care_of = self.away.get(vm, (home, "optimized", ""))
        rows = [{"router": name, "holds": self._holds(name, addr(vm))} for name in self.held]
        return {"ok": True, "data": {"vm": vm, "address": addr(vm), "home": home, "location": seg,
                                     "care_of": care_of, "mode": mode, "routers": rows}}

    def _holds(self, name, m):
        s = self.held[name]
        if m in s.local:
            care_of = next(k for k, v in s.before_route.items() if v == m)
            return (f"local {m} to {care_of} dev {s.local[m]}"
                    + ("" if m in s.core_egress else " keep-source"))
        return f"forward {m} to {s.before_route[m]}" if m in s.before_route else "-"

    # -- announcements --
    def _announce(self, seg, prefix):
        """ssw's `arp announce PREFIX port N` on seg's router port: every address of the
        prefix it answers for, with its MAC, and every neighbour confirmed there, with the
        neighbour's (slow_path::announcement_for). Returns what it announces and the
        sender, its first burst on the way."""
        name, ifname = self._port(seg)
        ns, held = self.router_ns[name], self.held[name]
        mine = ns.mac(ifname)
        neighbours = {n["dst"]: n["lladdr"] for n in json.loads(
            ns.run(["ip", "-j", "neigh", "show", "dev", ifname]).stdout)
            if "lladdr" in n and self._confirmed(n, held, ifname)}
        net = ipaddress.ip_network(prefix)
        pairs = []
        for a in map(str, net.hosts() if net.prefixlen <= 30 else net):
            if a in self.own[name][ifname] or (a, ifname) in held.proxies:
                pairs.append(f"{a}={mine}")
            elif a in neighbours:
                pairs.append(f"{a}={neighbours[a]}")
        sender = ns.popen(["/usr/bin/python3", "-c", GARP, ifname, str(GARP_COUNT),
                           str(GARP_INTERVAL), *pairs], stdout=subprocess.PIPE,
                          text=True) if pairs else None
        return f"{name}: arp announce {prefix} port {ifname} ({len(pairs)} addresses)", sender

    @staticmethod
    def _first_burst(sender, what):
        """Waits until the sender's first burst is out."""
        said = sender.stdout.readline()
        sender.stdout.close()
        if said != "sent\n":
            raise RuntimeError(f"{what}: the sender failed (exit {sender.wait(timeout=5)})")

    @staticmethod
    def _confirmed(neighbour, held, ifname):
        """REACHABLE or PERMANENT, as ssw counts a neighbour confirmed; or a VM delivered on
        this port, whose announcement ssw learns as REACHABLE and Linux as STALE."""
        return bool({"REACHABLE", "PERMANENT"} & set(neighbour.get("state", ()))) or \
            held.local.get(neighbour["dst"]) == ifname
