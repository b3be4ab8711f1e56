"""End to end: hostile traffic against one router, while a host pings through it.

    A 203.0.113.10 --- p0 (port 0, access) [ssw-router] (port 1, core) p1 --- X 10.0.0.2, 10.0.0.4
      MTU 9000 on A's link (both ends), for the jumbo kinds

    forward binding M2 = 192.168.11.4 -> M2* = 10.0.0.4 (X holds 10.0.0.4)

A pings X every 20 ms for the whole test. Meanwhile a scapy process in A's namespace sends,
with sendp() on A's veth, N frames of each bad kind (built here with scapy). After each kind
`sswctl --json show stats` must show exactly N more drops under the kind's reason; what the
router forwards (valid options, a total length shorter than the frame, fragments) must reach
X as expected (captured there) with no drop counted. A table of kind, frames, counter and
delta is printed; the ping must lose nothing and the router must exit 0 on SIGTERM. Two
more checks cover addresses a router must not forward for (spoofed own source, directed
broadcast).

DeviceChecksumTest: a port on the tap PMD, which checks IPv4 header checksums on receive
when asked (as NICs do): the router asks, shows it in `show ports`, forwards what the device
marks good and still drops and counts bad headers.

What a veth and af_packet actually deliver (found here, and asserted):
- Ethernet frames shorter than 14 bytes never arrive short: the sending kernel pads a raw
  frame to the 14-byte link header (dev_validate_header, for a CAP_SYS_RAWIO sender) and
  refuses it otherwise, so eth_truncated cannot be produced through a veth (packet_fuzz
  covers it). The padded frame carries ethertype 0: eth_unknown_type.
- A VLAN tag is taken off by the receiving kernel into packet metadata and put back by
  DPDK's af_packet PMD (no VLAN strip requested): the router sees the tagged frame (eth_vlan).
- af_packet (DPDK 22.11) copies every frame into one mbuf and its queue set-up refuses ring
  frames larger than an mbuf's data room, so it never delivers chained mbufs: a frame longer
  than the ring frame (2048 bytes with its header) reaches the router cut short, and its
  IPv4 total length then exceeds the frame (ip_bad_length). eth_multi_segment cannot be
  produced with af_packet ports (packet_fuzz covers it).
- The PMD joins its sockets to a fanout group with PACKET_FANOUT_FLAG_DEFRAG: the kernel
  reassembles IPv4 fragments before the router sees them. Overlapping fragments and
  incomplete sets never reach the router (the kernel drops them); a complete set of tiny
  fragments reaches it, and X, as one whole datagram. How the router itself treats
  fragments (forwarded as they are, refragmented, translated) is packet_fuzz's business.
"""

import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.hosts import parse_ping  # noqa: E402
from sswlab.netns import Topology, wait_until  # noqa: E402
from sswlab.router import Router  # noqa: E402

from scapy.all import (ARP, ICMP, IP, UDP, TCP, Dot1Q, Ether, IPOption_NOP,  # noqa: E402
                       IPOption_Router_Alert, IPOption_RR, Raw, RawPcapReader)

N = 100
A_IP, X_IP = "203.0.113.10", "10.0.0.2"
M2, M2STAR = "192.168.11.4", "10.0.0.4"
ROUTER_A = "203.0.113.1"
PROBE_PORT = 7777  # UDP port X captures forwarded kinds on
BCAST = "ff:ff:ff:ff:ff:ff"

CONFIG = [
    "address add 203.0.113.1/24 port 0",
    "address add 10.0.0.1/24 port 1",
    "port 1 role core",
    f"nat add {M2} to {M2STAR}",
]

# A scapy process in A's namespace: reads a pcap path per line, sends every frame of it
# with sendp() on eth0, answers "sent N".
SENDER = r"""
import sys
from scapy.all import Raw, RawPcapReader, conf, sendp
sock = conf.L2socket(iface=sys.argv[1])
for line in sys.stdin:
    reader = RawPcapReader(line.strip())
    frames = [Raw(data) for data, _ in reader]
    reader.close()
    sendp(frames, socket=sock, verbose=False)
    print("sent", len(frames), flush=True)
"""


def write_pcap(path, frames):
    """Ethernet frames, byte for byte, in a pcap file (what the sender replays)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for frame in frames:
            f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)


def checksum(data):
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data) - 1, 2))
    if len(data) % 2:
        s += data[-1] << 8
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(**fields):
    """A UDP datagram from A to X's probe port, as bytes."""
    return bytes(IP(src=A_IP, dst=X_IP, **fields) / UDP(sport=40000, dport=PROBE_PORT) / Raw(b"x" * 32))


def patch_ip(raw, **changes):
    """Edits header bytes of an IPv4 packet (offset -> bytes), then fixes the header
    checksum unless bad_checksum."""
    b = bytearray(raw)
    for off, val in changes.get("set", {}).items():
        b[off:off + len(val)] = val
    if not changes.get("bad_checksum"):
        ihl = (b[0] & 0x0f) * 4
        if ihl >= 20 and ihl <= len(b):
            b[10:12] = b"\x00\x00"
            b[10:12] = checksum(bytes(b[:ihl])).to_bytes(2, "big")
    return bytes(b)


class Capture:
    """tcpdump on an interface of a namespace, into a pcap file; frames() after stop()."""

    def __init__(self, ns, ifname, bpf):
        self.path = tempfile.mktemp(prefix="ssw-hostile-", suffix=".pcap")
        self.proc = ns.popen(["tcpdump", "-i", ifname, "-n", "-U", "--immediate-mode", "-s", "0",
                              "-w", self.path, bpf],
                             stderr=subprocess.PIPE)
        # tcpdump says "listening on" once the socket is bound.
        line = self.proc.stderr.readline().decode()
        if "listening" not in line:
            raise RuntimeError(f"tcpdump did not start: {line}")

    def frames(self):
        """What was captured so far (tcpdump -U writes every packet as it comes)."""
        if os.path.getsize(self.path) <= 24:  # the file header only
            return []
        reader = RawPcapReader(self.path)
        try:
            return [data for data, _ in reader]
        except EOFError:  # a record being written
            return []
        finally:
            reader.close()

    def stop(self, want=None, timeout=5):
        """Waits until `want` frames were captured (or timeout), then stops tcpdump."""
        deadline = time.monotonic() + timeout
        while want and len(self.frames()) < want and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # and anything beyond want
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        frames = self.frames()
        os.unlink(self.path)
        return frames


class HostileTrafficTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = t = Topology("ho")
        try:
            r, a, x = t.ns("r"), t.ns("a"), t.ns("x")
            cls.a, cls.x = a, x
            t.veth(r, "p0", a, "eth0", host_side=(a,))
            t.veth(r, "p1", x, "eth0", host_side=(x,))
            r.run("ip link set dev p0 mtu 9000")
            a.run("ip link set dev eth0 mtu 9000")
            a.run(f"ip addr add {A_IP}/24 dev eth0")
            a.run(f"ip route add default via {ROUTER_A}")
            x.run(f"ip addr add {X_IP}/24 dev eth0")
            x.run(f"ip addr add {M2STAR}/24 dev eth0")
            x.run("ip route add default via 10.0.0.1")
            cls.router = Router(t, r, "ho", ["p0", "p1"], CONFIG).start()
            ports = cls.router.ctl("show ports")
            cls.rmac = [p["mac"] for p in ports]
            cls.a_mac = a.mac("eth0")
            cls.sender = a.popen(["/usr/bin/python3", "-c", SENDER, "eth0"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
            cls.pcap_dir = t.tmpdir("ssw-hostile-")
            # The ping through the router that must survive everything.
            cls.ping_out = tempfile.NamedTemporaryFile("w+", prefix="ssw-hostile-ping-")
            cls.ping = a.popen(["ping", "-n", "-i", "0.02", "-W", "1", X_IP], stdout=cls.ping_out,
                               stderr=subprocess.STDOUT)
            cls.rows = []
        except Exception:
            t.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.sender.poll() is None:
                cls.sender.stdin.close()
                cls.sender.wait(timeout=10)
            code = cls.router.stop()
            assert code == 0, f"router exit code {code} after SIGTERM:\n{cls.router.output()}"
        finally:
            cls.topo.close()

    # -- helpers --

    def eth(self, **kw):
        kw.setdefault("dst", self.rmac[0])
        kw.setdefault("src", self.a_mac)
        return Ether(**kw)

    def ip_frame(self, packet):
        """An Ethernet frame to the router's port 0 carrying these IPv4 bytes."""
        return bytes(self.eth(type=0x0800)) + packet

    def send(self, frames, name):
        """Sends raw frames (bytes or scapy packets) from A with scapy's sendp()."""
        path = os.path.join(self.pcap_dir, "".join(c if c.isalnum() else "-" for c in name) + ".pcap")
        write_pcap(path, [bytes(f) for f in frames])
        self.sender.stdin.write(path + "\n")
        self.sender.stdin.flush()
        ready, _, _ = select.select([self.sender.stdout], [], [], 60)
        reply = self.sender.stdout.readline().split() if ready else ["no answer in 60 s"]
        self.assertEqual(reply, ["sent", str(len(frames))], f"scapy sender: {reply}")

    def drops(self):
        return self.router.stats()["drops"]

    def counters(self):
        return self.router.stats()["counters"]

    def expect_drops(self, kind, frames, reason, exact=True):
        """Sends frames, then waits for `reason` to count them all; records a table row."""
        before = self.drops()
        self.send(frames, kind)
        want = before[reason] + len(frames)
        try:
            wait_until(lambda: self.drops()[reason] >= want, timeout=5, what=f"{reason} +{len(frames)}")
        except AssertionError:
            pass
        time.sleep(0.3)  # anything late would show now
        after = self.drops()
        delta = after[reason] - before[reason]
        others = {k: after[k] - before[k] for k in after if after[k] != before[k] and k != reason}
        self.rows.append((kind, len(frames), reason, delta, others))
        self.assertIsNone(self.router.proc.poll(), f"router died on {kind}:\n{self.router.output()}")
        if exact:
            self.assertEqual(delta, len(frames), f"{kind}: {reason} +{delta}, other drops {others}")
        else:
            self.assertGreaterEqual(delta, len(frames), f"{kind}: {reason} +{delta}, other drops {others}")
        return others

    def expect_forwarded(self, kind, frames, bpf, check=None, arrive=None):
        """Sends frames the router must forward unchanged but for TTL and MACs; X must capture
        `arrive` packets (default: one per frame) matching bpf, each passing check. Records a
        table row with the forwarded counter; the router must drop nothing meanwhile."""
        arrive = len(frames) if arrive is None else arrive
        cap = Capture(self.x, "eth0", bpf)
        before, dbefore = self.counters(), self.drops()
        self.send(frames, kind)
        got = cap.stop(want=arrive) if arrive else (time.sleep(1), cap.stop())[1]
        after, dafter = self.counters(), self.drops()
        fwd = after["forwarded"] - before["forwarded"]
        others = {k: dafter[k] - dbefore[k] for k in dafter if dafter[k] != dbefore[k]}
        self.rows.append((kind, len(frames), "reached X (forwarded)", len(got),
                          dict(others, **{"forwarded incl. ping": fwd})))
        self.assertIsNone(self.router.proc.poll(), f"router died on {kind}:\n{self.router.output()}")
        self.assertEqual(len(got), arrive, f"{kind}: X captured {len(got)} of {len(frames)}; drops {others}")
        self.assertEqual(others, {}, f"{kind}: the router dropped some")
        self.assertGreaterEqual(fwd, arrive)
        if check:
            for f in got:
                check(f)
        return got

    # -- the test --

    def test_hostile_traffic_counted_while_ping_survives(self):
        time.sleep(1)  # the ping is under way
        udp = ipv4()
        ip = self.ip_frame
        drops = self.expect_drops

        with self.subTest("short ethernet"):
            # 13 bytes: our MAC, A's MAC, one byte of type. Arrives padded to 14 (see above).
            drops("eth <14 B (13 B sent)", [bytes(self.eth())[:13]] * N, "eth_unknown_type")
        with self.subTest("ipv4 truncated"):
            drops("ipv4 header truncated", [ip(udp[:12])] * N, "ip_truncated")
        with self.subTest("tcp truncated"):
            pkt = bytes(IP(src=A_IP, dst=M2, proto=6) / Raw(b"\x9c\x40\x00\x50\x00\x00"))
            drops("TCP header truncated (to M2)", [ip(pkt)] * N, "nat_l4_truncated")
        with self.subTest("udp truncated"):
            pkt = bytes(IP(src=A_IP, dst=M2, proto=17) / Raw(b"\x9c\x40\x1e"))
            drops("UDP header truncated (to M2)", [ip(pkt)] * N, "nat_l4_truncated")
        with self.subTest("icmp truncated"):
            pkt = bytes(IP(src=A_IP, dst=ROUTER_A, proto=1) / Raw(b"\x08\x00\xf7"))
            drops("ICMP header truncated (to router)", [ip(pkt)] * N, "local_bad_icmp")
        with self.subTest("ihl"):
            drops("IHL 4", [ip(patch_ip(udp, set={0: b"\x44"}))] * N, "ip_bad_ihl")
        with self.subTest("total length long"):
            longer = (len(udp) + 40).to_bytes(2, "big")
            drops("total length > frame", [ip(patch_ip(udp, set={2: longer}))] * N, "ip_bad_length")
        with self.subTest("total length below header"):
            drops("total length < header", [ip(patch_ip(udp, set={2: b"\x00\x10"}))] * N,
                  "ip_bad_length")
        with self.subTest("bad checksum"):
            bad = patch_ip(udp, set={10: b"\xde\xad"}, bad_checksum=True)
            drops("bad header checksum", [ip(bad)] * N, "ip_bad_checksum")
        with self.subTest("broadcast mac"):
            drops("IPv4 in broadcast frame", [self.eth(dst=BCAST) / IP(udp)] * N,
                  "ip_not_for_us_l2_broadcast")
        with self.subTest("multicast mac"):
            drops("multicast frame", [self.eth(dst="01:00:5e:01:02:03") / IP(udp)] * N, "eth_multicast")
        with self.subTest("quote truncated"):
            # An ICMP error to M2 (translated to M2*) whose quote is cut inside the IP header.
            quote = bytes(IP(src=M2, dst=A_IP) / UDP(sport=5354, dport=40000))[:12]
            pkt = IP(src=A_IP, dst=M2) / ICMP(type=3, code=3) / Raw(quote)
            drops("ICMP error, quote truncated (to M2)", [self.eth() / pkt] * N,
                  "nat_icmp_quote_truncated")
        with self.subTest("arp lengths"):
            frames = [self.eth(dst=BCAST) / ARP(op=1, hwsrc=self.a_mac, psrc=A_IP, pdst=ROUTER_A,
                                                **({"hwlen": 8} if i % 2 else {"plen": 16}))
                      for i in range(N)]
            drops("ARP hw/proto length wrong", frames, "arp_malformed")
        with self.subTest("arp broadcast sender"):
            arp = ARP(op=1, hwsrc=BCAST, psrc=A_IP, pdst=ROUTER_A)
            drops("ARP from broadcast sender MAC", [self.eth(dst=BCAST) / arp] * N, "arp_bad_sender")
        with self.subTest("arp multicast sender"):
            arp = ARP(op=1, hwsrc="01:00:5e:00:00:01", psrc=A_IP, pdst=ROUTER_A)
            drops("ARP from multicast sender MAC", [self.eth(dst=BCAST) / arp] * N, "arp_bad_sender")
        with self.subTest("vlan"):
            drops("VLAN-tagged (802.1Q)", [self.eth() / Dot1Q(vlan=10) / IP(udp)] * N, "eth_vlan")
        with self.subTest("qinq"):
            qinq = self.eth(type=0x88a8) / Dot1Q(vlan=20) / Dot1Q(vlan=10) / IP(udp)
            drops("VLAN-tagged (802.1ad)", [qinq] * N, "eth_vlan")
        with self.subTest("beyond mbuf"):
            big = bytes(IP(src=A_IP, dst=X_IP) / UDP(sport=40000, dport=PROBE_PORT) / Raw(b"y" * 2100))
            drops("2142 B frame (> mbuf data room)", [ip(big)] * N, "ip_bad_length")
        with self.subTest("jumbo"):
            jumbo = bytes(IP(src=A_IP, dst=X_IP) / UDP(sport=40000, dport=PROBE_PORT) / Raw(b"z" * 8950))
            drops("jumbo 8992 B frame", [ip(jumbo)] * N, "ip_bad_length")
        with self.subTest("frag needed"):
            big = IP(src=A_IP, dst=X_IP, flags="DF") / UDP(sport=40000, dport=PROBE_PORT) / Raw(b"d" * 1800)
            drops("1842 B with DF (egress MTU 1500)", [self.eth() / big] * N, "frag_needed")
        with self.subTest("bad options"):
            # An option whose length runs past the header, in a packet that must be fragmented.
            pkt = bytearray(bytes(IP(src=A_IP, dst=X_IP, options=[IPOption_NOP()] * 4) /
                                  UDP(sport=40000, dport=PROBE_PORT) / Raw(b"o" * 1700)))
            pkt[20:24] = b"\x07\x28\x04\x00"
            drops("bad option length, needs fragmenting", [ip(patch_ip(bytes(pkt)))] * N,
                  "fragment_failed")

        with self.subTest("options forwarded"):
            opts = [IPOption_RR(routers=["0.0.0.0"] * 3), IPOption_NOP(), IPOption_Router_Alert()]
            pkt = IP(src=A_IP, dst=X_IP, options=opts) / UDP(sport=40001, dport=PROBE_PORT) / Raw(b"opts")

            def has_options(frame):
                self.assertGreater(frame[14] & 0x0f, 5, "options stripped")
            self.expect_forwarded("IP options (RR, NOP, RA)", [self.eth() / pkt] * N,
                                  f"udp dst port {PROBE_PORT} and src port 40001", has_options)
        with self.subTest("padding trimmed"):
            frame = ip(ipv4(id=77)) + b"\xee" * 40  # total length < frame

            def trimmed(f):
                self.assertEqual(len(f), 14 + len(ipv4()), "padding forwarded")
            self.expect_forwarded("total length < frame (40 B trailer)", [frame] * N,
                                  f"udp dst port {PROBE_PORT} and ip[4:2] = 77", trimmed)

        # Fragments: the kernel under af_packet reassembles them first (see above).
        def fragment(ident, frag, payload, mf=False, dst=X_IP):
            return self.eth() / IP(src=A_IP, dst=dst, id=ident, frag=frag, proto=17,
                                   flags="MF" if mf else 0) / Raw(payload)

        with self.subTest("overlapping fragments"):
            frames = []
            for i in range(N // 2):
                udp_header = b"\x9c\x41\x1e\x61\x00\x48\x00\x00"
                frames.append(fragment(1000 + i, 0, udp_header + b"a" * 16, mf=True))
                frames.append(fragment(1000 + i, 1, b"b" * 64))  # bytes 8..72: over the first
            self.expect_forwarded("overlapping fragments (pairs)", frames,
                                  "ip[4:2] >= 1000 and ip[4:2] < 1100", arrive=0)
        with self.subTest("tiny fragments"):
            frames = [fragment(2000 + i, k, bytes([k]) * 8, mf=k < 3)
                      for i in range(N // 4) for k in range(4)]

            def whole(f):
                self.assertEqual(int.from_bytes(f[20:22], "big") & 0x3fff, 0, "a fragment reached X")
                self.assertEqual(int.from_bytes(f[16:18], "big"), 20 + 32, "not the whole datagram")
            self.expect_forwarded("tiny (8 B) fragments, sets of 4", frames,
                                  "ip[4:2] >= 2000 and ip[4:2] < 2100", whole, arrive=N // 4)
        with self.subTest("incomplete fragments through binding"):
            frames = [fragment(3000 + i, 100, b"f" * 64, dst=M2) for i in range(N)]
            self.expect_forwarded("later fragments only, to M2", frames,
                                  "ip[4:2] >= 3000 and ip[4:2] < 3100", arrive=0)

        # The ping went on through all of it.
        time.sleep(1)
        self.ping.send_signal(signal.SIGINT)
        self.ping.wait(timeout=10)
        self.ping_out.seek(0)
        p = parse_ping(self.ping_out.read())
        self.print_table(p)
        self.assertGreater(p.sent, 100)
        self.assertLessEqual(p.loss, max(1, p.sent // 200), f"ping lost {p.loss} of {p.sent}")
        self.assertIsNone(self.router.proc.poll(), "the router is not running")

    # -- addresses a router must not forward for (found by this test when it did) --

    def test_source_spoofed_as_router_address_is_dropped(self):
        # A host on port 0 sends packets "from" 10.0.0.1 (port 1's address): martian sources
        # for a router (Linux drops them too); never forwarded, never answered.
        n = 20
        pkt = IP(src="10.0.0.1", dst=X_IP) / UDP(sport=40002, dport=PROBE_PORT) / Raw(b"spoofed")
        cap = Capture(self.x, "eth0", "src host 10.0.0.1 and udp")
        before = self.drops()
        self.send([self.eth() / pkt] * n, "spoofed-router-source")
        time.sleep(1)
        got = cap.stop()
        after = self.drops()
        self.assertEqual(len(got), 0, "packets from the router's own address were forwarded")
        self.assertEqual(after["ip_source_is_ours"] - before["ip_source_is_ours"], n)

    def test_directed_broadcast_is_dropped_without_arp(self):
        # RFC 1812 5.3.5.2: directed broadcasts (10.0.0.255 on port 1's subnet) are not
        # forwarded by default, and no host answers ARP for a broadcast address.
        n = 20
        pkt = IP(src=A_IP, dst="10.0.0.255") / UDP(sport=40003, dport=PROBE_PORT) / Raw(b"bcast")
        cap = Capture(self.x, "eth0", "arp")
        before = self.drops()
        self.send([self.eth() / pkt] * n, "directed-broadcast")
        time.sleep(1)
        got = cap.stop()
        after = self.drops()
        who_has = [f for f in got if f[38:42] == bytes([10, 0, 0, 255])]
        self.assertEqual(who_has, [], "the router ARPed for the subnet broadcast address")
        self.assertEqual(after["ip_directed_broadcast"] - before["ip_directed_broadcast"], n)

    def print_table(self, p):
        if not self.rows:
            return
        width = max(len(r[0]) for r in self.rows)
        cwidth = max(len(r[2]) for r in self.rows)
        lines = [f"{'kind':<{width}}  {'sent':>5}  {'counter':<{cwidth}}  {'delta':>5}  other drops",
                 "-" * (width + cwidth + 34)]
        for kind, sent, counter, delta, others in self.rows:
            other = ", ".join(f"{k} +{v}" for k, v in others.items()) or "-"
            lines.append(f"{kind:<{width}}  {sent:>5}  {counter:<{cwidth}}  {delta:>5}  {other}")
        lines.append(f"ping A -> X every 20 ms throughout: {p.sent} sent, {p.received} received, "
                     f"{p.loss} lost")
        print("\n" + "\n".join(lines), flush=True)


class DeviceChecksumTest(unittest.TestCase):
    """A port whose device checks IPv4 header checksums on receive: the tap PMD does (in
    software, as a NIC would in hardware) when asked. The router asks where the device offers
    it, says so in `show ports` (`rx_ip_checksum`: device, or software when the worker sums
    headers itself, as on af_packet), forwards what the device marks good, and still drops
    and counts what it marks bad.

      kernel of R 203.0.113.10 --- tap0 (port 0, tap PMD) [ssw-router] (port 1, af_packet) p1 --- X
    """

    def test_tap_port_checks_checksums_and_bad_ones_are_dropped(self):
        t = Topology("hc")
        try:
            r, x = t.ns("r"), t.ns("x")
            t.veth(r, "p1", x, "eth0", host_side=(x,))
            x.run(f"ip addr add {X_IP}/24 dev eth0")
            x.run("ip route add default via 10.0.0.1")
            router = Router(t, r, "hc", ["p1"], CONFIG[:2], vdevs=["net_tap0,iface=tap0"]).start()
            try:
                # The tap PMD made tap0 in R's namespace: R's own kernel is the host on port 0.
                r.run("ip link set dev tap0 up")
                r.run(f"ip addr add {A_IP}/24 dev tap0")
                r.run(f"ip route add default via {ROUTER_A}")
                r.run("ethtool -K tap0 tx off", check=False)
                ports = router.ctl("show ports")
                self.assertEqual(ports[0]["driver"], "net_tap")
                self.assertEqual(ports[0]["rx_ip_checksum"], "device")
                self.assertEqual(ports[1]["rx_ip_checksum"], "software")

                out = r.run(["ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", X_IP], check=False).stdout
                self.assertEqual(parse_ping(out).received, 5, out)

                good = ipv4()
                frames = [bytes(Ether(dst=ports[0]["mac"], src=r.mac("tap0"), type=0x0800) / Raw(f))
                          for f in (patch_ip(good, set={10: b"\xde\xad"}, bad_checksum=True),
                                    patch_ip(good, set={8: b"\x07"}, bad_checksum=True))]
                pcap = tempfile.mktemp(prefix="ssw-hostile-", suffix=".pcap")
                write_pcap(pcap, frames * (N // 2))
                before = router.drop("ip_bad_checksum")
                fwd_before = router.counter("forwarded")
                try:
                    r.run(["/usr/bin/python3", "-c", SENDER, "tap0"], input=pcap + "\n", timeout=60)
                finally:
                    os.unlink(pcap)
                try:
                    wait_until(lambda: router.drop("ip_bad_checksum") >= before + N, timeout=10,
                               what="bad-checksum drops")
                except AssertionError as e:
                    self.fail(f"{e}; drops: {router.stats()['drops']}")
                self.assertEqual(router.drop("ip_bad_checksum"), before + N)
                self.assertEqual(router.counter("forwarded"), fwd_before, "a bad header was forwarded")
                self.assertEqual(router.stop(), 0, router.output())
            finally:
                router.kill()
        finally:
            t.close()


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
