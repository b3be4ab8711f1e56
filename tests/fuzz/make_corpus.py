#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/README.md):

  corpus/packet/   one frame each, for packet_fuzz: a control byte, then the frame
  corpus/command/  one or more command lines each, for command_fuzz
  corpus/*/regression-*   inputs that reproduced router bugs the targets found (fixed)

The frames fit the router packet_fuzz.cc configures (its kConfig): ports 0 (203.0.113.1/24,
MTU 576, default route via .254), 1 (10.0.0.1/24 and 100.64.0.1/30, core), 2 (192.168.10.1/24,
redirects on); bindings 192.168.11.3 <-> 192.168.10.3 (local, port 2), 192.168.11.4 -> 10.0.0.4
(forward), 192.168.11.6 <-> 192.168.10.6 (local, keep-source); proxy-ARP 192.168.11.0/24 on
port 2. Needs scapy (Debian's python3-scapy): /usr/bin/python3 tests/fuzz/make_corpus.py
"""

import os
import shutil
import sys

from scapy.all import (ARP, ICMP, IP, IPOption_LSRR, IPOption_NOP, IPOption_RR,
                       IPOption_Router_Alert, TCP, UDP, Dot1Q, Ether, Raw, IPv6)

HERE = os.path.dirname(os.path.abspath(__file__))
US = "02:00:00:00:ff:00"      # the rx port's MAC: packet_fuzz overwrites it (control bits 2-3)
HOST = "02:00:00:00:00:0a"    # 203.0.113.10
CORE = "02:00:00:00:01:02"    # 10.0.0.2
SEG = "02:00:00:00:02:02"     # 192.168.10.2
VM = "02:00:00:00:02:03"      # 192.168.11.3 (M)
BCAST = "ff:ff:ff:ff:ff:ff"

# Control byte (packet_fuzz.cc): bits 0-1 rx port, 2-3 destination MAC (0 keep, 1 the port's,
# 3 broadcast), 4-6 copies (7: a burst of 64, 6: three; 5: one, bindings out), 7 fix checksums.
KEEP, OURS, BROADCAST = 0, 1, 3


def with_options(ip_pkt, opts):
    """An IPv4 packet (scapy, no options) with raw option bytes inserted, lengths and header
    checksum fixed: for options scapy would not build (malformed ones)."""
    raw = bytearray(bytes(ip_pkt))
    opts = opts + b"\x00" * (-len(opts) % 4)
    raw[20:20] = opts
    raw[0] = 0x40 | (20 + len(opts)) // 4
    raw[2:4] = len(raw).to_bytes(2, "big")
    raw[10:12] = b"\x00\x00"
    s = sum(int.from_bytes(raw[i:i + 2], "big") for i in range(0, (raw[0] & 15) * 4, 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    raw[10:12] = (~s & 0xffff).to_bytes(2, "big")
    return bytes(raw)


def ctl(port, mac=OURS, copies=0, fix=False):
    return bytes([port | mac << 2 | copies << 4 | (0x80 if fix else 0)])


def ip_payload(n):
    return Raw(bytes((i * 7) & 0xff for i in range(n)))


def frames():
    """(name, control byte, frame bytes)"""
    out = []

    def add(name, port, pkt, mac=OURS, copies=0, fix=False):
        raw = pkt if isinstance(pkt, bytes) else bytes(pkt)
        out.append((name, ctl(port, mac, copies, fix), raw))

    e0 = Ether(dst=US, src=HOST)
    e1 = Ether(dst=US, src=CORE)
    e2 = Ether(dst=US, src=SEG)
    e0raw = bytes(Ether(dst=US, src=HOST, type=0x0800))  # for hand-made IPv4 bytes
    e1raw = bytes(Ether(dst=US, src=CORE, type=0x0800))

    # -- to the router --
    add("echo-to-router", 0,
        e0 / IP(src="203.0.113.10", dst="203.0.113.1") / ICMP(id=1, seq=1) / ip_payload(56))
    add("echo-to-router-big-reply-fragmented", 0,
        e0 / IP(src="203.0.113.10", dst="203.0.113.1") / ICMP(id=1, seq=2) / ip_payload(1200))
    add("echo-to-other-port-address", 1,
        e1 / IP(src="10.0.0.2", dst="203.0.113.1") / ICMP(id=2) / ip_payload(32))
    add("echo-bad-icmp-checksum", 0,
        e0 / IP(src="203.0.113.10", dst="203.0.113.1") / ICMP(chksum=0x1234) / ip_payload(8))
    add("echo-with-options", 0,
        e0 / IP(src="203.0.113.10", dst="203.0.113.1", options=[IPOption_RR(routers=["0.0.0.0"] * 2)]) /
        ICMP() / ip_payload(20))
    add("udp-to-router-port-unreachable", 1,
        e1 / IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=4000, dport=53) / ip_payload(12))
    add("tcp-to-router", 1, e1 / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=4000, dport=22, flags="S"))
    add("icmp-error-to-router", 1,
        e1 / IP(src="10.0.0.2", dst="10.0.0.1") / ICMP(type=3, code=3) /
        IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2))
    add("fragment-to-router", 0,
        e0 / IP(src="203.0.113.10", dst="203.0.113.1", flags="MF") / ICMP() / ip_payload(64))

    # -- through the router --
    add("forward-echo-0-to-1", 0,
        e0 / IP(src="203.0.113.10", dst="10.0.0.2") / ICMP(id=3, seq=1) / ip_payload(56))
    add("forward-udp-1-to-0-fragmented", 1,
        e1 / IP(src="10.0.0.2", dst="203.0.113.10") / UDP(sport=5000, dport=5001) / ip_payload(1400))
    add("forward-df-frag-needed", 1,
        e1 / IP(src="10.0.0.2", dst="203.0.113.10", flags="DF") / TCP(sport=80, dport=5555, flags="A") /
        ip_payload(1000))
    add("forward-ttl-1", 0,
        e0 / IP(src="203.0.113.10", dst="10.0.0.2", ttl=1) / UDP(sport=33434, dport=33435) / ip_payload(20))
    add("forward-blackhole", 0, e0 / IP(src="203.0.113.10", dst="198.51.100.5") / ICMP() / ip_payload(8))
    add("forward-default-route", 1,
        e1 / IP(src="10.0.0.2", dst="8.8.8.8") / UDP(sport=999, dport=53) / ip_payload(30))
    add("forward-static-route", 0,
        e0 / IP(src="203.0.113.10", dst="172.16.5.5") / TCP(sport=1234, dport=443, flags="S"))
    add("forward-unresolved-onlink-route", 1,
        e1 / IP(src="10.0.0.2", dst="100.100.0.7") / ICMP() / ip_payload(16))
    add("forward-unresolved-connected", 1,
        e1 / IP(src="10.0.0.2", dst="203.0.113.99") / UDP(sport=1, dport=2) / ip_payload(10))
    add("forward-padded-frame", 0,
        (e0 / IP(src="203.0.113.10", dst="10.0.0.2") / UDP(sport=7, dport=7)).build() + b"\x00" * 18)
    add("redirect-hairpin", 2, e2 / IP(src="192.168.10.2", dst="192.168.20.5") / ICMP() / ip_payload(24))
    add("burst-of-64", 0,
        e0 / IP(src="203.0.113.10", dst="10.0.0.2") / ICMP(id=9) / ip_payload(100), copies=7)
    add("burst-of-3-fragmenting", 1,
        e1 / IP(src="10.0.0.2", dst="203.0.113.10") / UDP(sport=1, dport=2) / ip_payload(900), copies=6)
    add("forward-echo-without-bindings", 0,
        e0 / IP(src="203.0.113.10", dst="10.0.0.2") / ICMP(id=3) / ip_payload(56), copies=5)
    add("forward-to-home-without-bindings", 0,
        e0 / IP(src="203.0.113.10", dst="192.168.11.4") / UDP(sport=1, dport=2), copies=5)
    add("multi-segment-jumbo", 1,
        e1 / IP(src="10.0.0.2", dst="203.0.113.10") / UDP(sport=1, dport=2) / ip_payload(3000))

    # -- bindings --
    add("forward-binding-dst", 0,
        e0 / IP(src="203.0.113.10", dst="192.168.11.4") / TCP(sport=40000, dport=80, flags="S"))
    add("forward-binding-src", 1,
        e1 / IP(src="10.0.0.4", dst="203.0.113.10") / TCP(sport=80, dport=40000, flags="SA"))
    add("forward-binding-udp-zero-checksum", 0,
        e0 / IP(src="203.0.113.10", dst="192.168.11.4") / UDP(sport=1, dport=2, chksum=0) / ip_payload(8))
    add("local-binding-dst", 1,
        e1 / IP(src="10.0.0.2", dst="192.168.10.3") / UDP(sport=5353, dport=5353) / ip_payload(16))
    add("local-binding-src", 2,
        Ether(dst=US, src=VM) / IP(src="192.168.11.3", dst="10.0.0.2") / ICMP(type=0) / ip_payload(16))
    add("local-binding-home-direct", 2,
        e2 / IP(src="192.168.10.2", dst="192.168.11.3") / ICMP() / ip_payload(16))
    add("keep-source-binding", 1,
        e1 / IP(src="10.0.0.2", dst="192.168.10.6") / TCP(sport=1, dport=2, flags="S"))
    quoted = IP(src="203.0.113.10", dst="10.0.0.4") / UDP(sport=40000, dport=5354)
    add("icmp-error-through-forward-binding", 1,
        e1 / IP(src="10.0.0.4", dst="203.0.113.10") / ICMP(type=3, code=3) / quoted / ip_payload(13))
    add("icmp-error-quote-truncated", 1,
        e1 / IP(src="10.0.0.4", dst="203.0.113.10") / ICMP(type=3, code=3) / Raw(bytes(quoted)[:12]))
    add("icmp-error-quote-bad-ihl", 1,
        e1 / IP(src="10.0.0.4", dst="203.0.113.10") / ICMP(type=11) / Raw(b"\x4f" + bytes(quoted)[1:28]))
    add("icmp-error-quote-tcp-to-local-binding", 1,
        e1 / IP(src="10.0.0.2", dst="192.168.10.3") / ICMP(type=11, code=0) /
        IP(src="192.168.10.3", dst="10.0.0.2") / TCP(sport=22, dport=1000, flags="A"))
    add("icmp-error-header-only", 1,
        e1 / IP(src="10.0.0.4", dst="203.0.113.10", proto=1) / Raw(b"\x03\x03\x00\x00"))
    add("fragment-first-through-binding", 0,
        e0 / IP(src="203.0.113.10", dst="192.168.11.4", flags="MF") / UDP(sport=1, dport=2, len=1000) /
        ip_payload(64))
    add("fragment-later-through-binding", 0,
        e0 / IP(src="203.0.113.10", dst="192.168.11.4", frag=100) / ip_payload(64))
    add("fragment-first-tcp-truncated-through-binding", 0,
        e0 / IP(src="203.0.113.10", dst="192.168.11.4", flags="MF", proto=6) /
        Raw(b"\x00\x50\x01\xbb\x00\x00\x00\x01"))

    # -- fragments and options --
    add("fragment-tiny-first", 0,
        e0 / IP(src="203.0.113.10", dst="10.0.0.2", flags="MF", proto=17) /
        Raw(b"\x00\x01\x00\x02\x00\x10\x00\x00"))
    add("fragment-overlapping", 0,
        e0 / IP(src="203.0.113.10", dst="10.0.0.2", flags="MF", frag=1) / ip_payload(64))
    add("fragment-last-large-refragmented", 1,
        e1 / IP(src="10.0.0.2", dst="203.0.113.10", frag=185) / ip_payload(1200))
    add("fragment-middle-refragmented", 1,
        e1 / IP(src="10.0.0.2", dst="203.0.113.10", flags="MF", frag=10) / ip_payload(1000))
    opts = [IPOption_NOP(), IPOption_LSRR(routers=["10.0.0.2"]), IPOption_RR(routers=["0.0.0.0"]),
            IPOption_Router_Alert()]
    add("options-forwarded", 0,
        e0 / IP(src="203.0.113.10", dst="10.0.0.2", options=opts) / UDP(sport=1, dport=2) / ip_payload(30))
    add("options-fragmented-copied", 1,
        e1 / IP(src="10.0.0.2", dst="203.0.113.10", options=opts) / UDP(sport=1, dport=2) / ip_payload(1200))
    add("options-bad-length-fragmented", 1,
        e1raw + with_options(IP(src="10.0.0.2", dst="203.0.113.10") / ip_payload(1200), b"\x83\x00\x00\x00"))
    add("options-overrun", 1,
        e1raw + with_options(IP(src="10.0.0.2", dst="203.0.113.10") / ip_payload(1000), b"\x07\x28\x04\x00"))
    add("options-truncated-at-end", 1,
        e1raw + with_options(IP(src="10.0.0.2", dst="203.0.113.10") / ip_payload(1000), b"\x01\x01\x01\x83"))
    add("options-max-ihl", 0,
        e0 / IP(src="203.0.113.10", dst="10.0.0.2", options=[IPOption_NOP()] * 40) / ICMP() / ip_payload(8))

    # -- malformed IPv4 --
    good = IP(src="203.0.113.10", dst="10.0.0.2") / UDP(sport=1, dport=2) / ip_payload(20)
    b = bytearray(bytes(good))
    add("ip-bad-checksum", 0, e0raw + bytes(b[:10]) + b"\xde\xad" + bytes(b[12:]))
    add("ip-ihl-4", 0, e0raw + b"\x44" + bytes(b[1:]), fix=True)
    add("ip-ihl-beyond-frame", 0, e0raw + b"\x4f" + bytes(b[1:30]), fix=True)
    add("ip-total-length-beyond-frame", 0, e0raw + bytes(b[:2]) + b"\x05\xdc" + bytes(b[4:]), fix=True)
    add("ip-total-length-below-header", 0, e0raw + bytes(b[:2]) + b"\x00\x10" + bytes(b[4:]), fix=True)
    add("ip-version-6-in-ipv4", 0, e0raw + b"\x65" + bytes(b[1:]), fix=True)
    add("ip-truncated-header", 0, e0raw + bytes(b[:12]))
    add("ip-source-loopback", 0, e0 / IP(src="127.0.0.1", dst="10.0.0.2") / ICMP())
    add("ip-source-multicast", 0, e0 / IP(src="224.0.0.5", dst="10.0.0.2") / ICMP())
    add("ip-source-zero", 0, e0 / IP(src="0.0.0.0", dst="10.0.0.2") / ICMP())
    add("ip-destination-broadcast", 0,
        e0 / IP(src="203.0.113.10", dst="255.255.255.255") / UDP(sport=68, dport=67))
    add("ip-destination-class-e", 0, e0 / IP(src="203.0.113.10", dst="240.0.0.1") / ICMP())
    add("ip-in-ethernet-broadcast", 0,
        Ether(dst=BCAST, src=HOST) / IP(src="203.0.113.10", dst="10.0.0.2") / ICMP(), mac=BROADCAST)
    add("tcp-header-truncated", 0,
        e0 / IP(src="203.0.113.10", dst="192.168.11.4", proto=6) / Raw(b"\x00\x50\x01"))
    add("udp-header-truncated", 1, e1 / IP(src="10.0.0.2", dst="192.168.10.3", proto=17) / Raw(b"\x13"))
    add("icmp-header-truncated", 0, e0 / IP(src="203.0.113.10", dst="203.0.113.1", proto=1) / Raw(b"\x08"))

    # -- Ethernet --
    add("eth-empty", 0, b"")
    add("eth-13-bytes", 0, bytes(e0)[:13])
    add("eth-header-only", 0, bytes(Ether(dst=US, src=HOST, type=0x0800)))
    add("eth-not-for-us", 0,
        Ether(dst="02:00:00:00:99:99", src=HOST) / IP(src="203.0.113.10", dst="10.0.0.2") / ICMP(), mac=KEEP)
    add("eth-multicast", 0,
        Ether(dst="01:00:5e:00:00:01", src=HOST) / IP(src="203.0.113.10", dst="224.0.0.1") / ICMP(), mac=KEEP)
    add("eth-vlan", 0, e0 / Dot1Q(vlan=10) / IP(src="203.0.113.10", dst="10.0.0.2") / ICMP())
    add("eth-qinq", 0,
        Ether(dst=US, src=HOST, type=0x88a8) / Dot1Q(vlan=20) / Dot1Q(vlan=10) /
        IP(src="203.0.113.10", dst="10.0.0.2") / ICMP())
    add("eth-ipv6", 0, e0 / IPv6(src="fe80::1", dst="ff02::1") / ICMP())
    add("eth-unknown-type", 0, Ether(dst=US, src=HOST, type=0x88cc) / Raw(b"\x00" * 46))

    # -- ARP --
    def arp(port, op, hwsrc, psrc, pdst, hwdst="00:00:00:00:00:00", eth_dst=BCAST, mac=BROADCAST, **kw):
        add_name = kw.pop("name")
        add(add_name, port, Ether(dst=eth_dst, src=hwsrc if "eth_src" not in kw else kw.pop("eth_src")) /
            ARP(op=op, hwsrc=hwsrc, psrc=psrc, pdst=pdst, hwdst=hwdst, **kw), mac=mac)

    arp(0, 1, HOST, "203.0.113.10", "203.0.113.1", name="arp-request-for-router")
    arp(0, 1, "02:00:00:00:00:63", "203.0.113.99", "203.0.113.1", name="arp-request-learns-sender")
    arp(0, 2, "02:00:00:00:00:63", "203.0.113.99", "203.0.113.1", hwdst=US, eth_dst=US, mac=OURS,
        name="arp-reply-to-router")
    arp(0, 1, HOST, "203.0.113.10", "203.0.113.50", name="arp-request-not-for-us")
    arp(2, 1, SEG, "192.168.10.2", "192.168.11.50", name="arp-proxy-request")
    arp(2, 1, SEG, "192.168.10.2", "192.168.11.3", name="arp-request-for-local-binding")
    arp(2, 1, VM, "192.168.11.3", "192.168.11.3", name="arp-garp-from-moved-vm")
    arp(2, 2, VM, "192.168.11.3", "192.168.11.3", hwdst=BCAST, name="arp-garp-reply-from-moved-vm")
    arp(2, 1, "02:00:00:00:02:06", "192.168.11.6", "192.168.11.6", name="arp-garp-from-keep-source-vm")
    arp(2, 1, VM, "0.0.0.0", "192.168.11.3", name="arp-probe")
    arp(0, 1, HOST, "203.0.113.1", "203.0.113.1", name="arp-claims-router-address")
    arp(0, 1, "01:00:5e:00:00:01", "203.0.113.10", "203.0.113.1", eth_src=HOST, name="arp-multicast-sender")
    arp(0, 1, BCAST, "203.0.113.10", "203.0.113.1", eth_src=HOST, name="arp-broadcast-sender")
    arp(0, 1, "00:00:00:00:00:00", "203.0.113.10", "203.0.113.1", eth_src=HOST, name="arp-zero-sender")
    arp(0, 1, HOST, "203.0.113.10", "203.0.113.1", hwlen=8, name="arp-bad-hardware-length")
    arp(0, 1, HOST, "203.0.113.10", "203.0.113.1", plen=16, name="arp-bad-protocol-length")
    arp(0, 1, HOST, "203.0.113.10", "203.0.113.1", hwtype=6, name="arp-bad-hardware-type")
    arp(0, 3, HOST, "203.0.113.10", "203.0.113.1", name="arp-opcode-3")
    request = bytes(Ether(dst=BCAST, src=HOST) /
                    ARP(op=1, hwsrc=HOST, psrc="203.0.113.10", pdst="203.0.113.1"))
    add("arp-truncated", 0,
        request[:30], mac=BROADCAST)
    add("arp-padded", 0,
        request + b"\x00" * 18, mac=BROADCAST)
    return out


COMMANDS = {
    # every form of control/protocol/command.cc's command_summary(), accepted and refused
    "address-add": [
        "address add 10.1.0.1/24 port 0",
    ],
    "address-add-del": [
        "address add 10.1.0.1/24 port 0",
        "address del 10.1.0.1/24 port 0",
    ],
    "address-add-31-32": [
        "address add 10.2.0.0/31 port 1",
        "address add 10.3.0.1/32 port 2",
    ],
    "address-two-on-subnet": [
        "address add 10.1.0.1/24 port 0",
        "address add 10.1.0.2/24 port 0",
        "address del 10.1.0.1/24 port 0",
    ],
    "address-refused": [
        "address add 10.1.0.0/24 port 0",
        "address add 10.1.0.255/24 port 0",
        "address add 224.0.0.1/4 port 0",
        "address add 10.1.0.1/0 port 0",
        "address add 10.1.0.1 port 0",
        "address add 10.1.0.1/24 port 9",
        "address del 10.9.9.9/24 port 0",
        "address frob 1.2.3.4/8 port 0",
    ],
    "address-overlap": [
        "address add 10.1.0.1/24 port 0",
        "address add 10.1.0.2/16 port 1",
    ],
    "route-via": [
        "address add 10.1.0.1/24 port 0",
        "route add 172.16.0.0/12 via 10.1.0.2",
        "route replace 172.16.0.0/12 via 10.1.0.3",
        "route del 172.16.0.0/12",
    ],
    "route-port": [
        "route add 100.64.0.0/10 port 1",
        "route replace 100.64.0.0/10 port 2",
    ],
    "route-blackhole": [
        "route add 198.51.100.0/24 blackhole",
        "route add 198.51.100.0/24 blackhole",
    ],
    "route-default": [
        "address add 10.1.0.1/24 port 0",
        "route add 0.0.0.0/0 via 10.1.0.254",
        "route replace 0.0.0.0/0 blackhole",
        "route del 0.0.0.0/0",
    ],
    "route-host-routes": [
        "route add 10.5.5.5/32 port 0",
        "route add 10.5.5.4/31 port 1",
        "route add 10.5.5.0/25 blackhole",
    ],
    "route-refused": [
        "route add 10.0.0.1/8 port 0",
        "route add 10.0.0.0/8 via 10.9.9.9",
        "route del 10.0.0.0/8",
        "route add 10.0.0.0/8 port 7",
        "route add 10.0.0.0/33 port 0",
        "route add 10.0.0.0/8 nowhere",
    ],
    "route-over-connected": [
        "address add 10.1.0.1/24 port 0",
        "route add 10.1.0.0/24 blackhole",
        "route del 10.1.0.1/32",
    ],
    "route-tbl8": [
        "route add 10.0.0.0/25 port 0",
        "route add 10.0.1.0/25 port 0",
        "route add 10.0.2.0/25 port 0",
        "route add 10.0.3.0/25 port 0",
        "route add 10.0.4.0/25 port 0",
        "route del 10.0.0.0/25",
        "route add 10.0.5.0/25 port 0",
    ],
    "neigh-add-del": [
        "neigh add 10.1.0.2 lladdr 02:00:00:00:00:02 port 0",
        "neigh add 10.1.0.2 lladdr 02:00:00:00:00:03 port 1",
        "neigh del 10.1.0.2",
    ],
    "neigh-refused": [
        "neigh add 10.1.0.2 lladdr 01:00:5e:00:00:01 port 0",
        "neigh add 10.1.0.2 lladdr 00:00:00:00:00:00 port 0",
        "neigh add 224.0.0.1 lladdr 02:00:00:00:00:02 port 0",
        "neigh del 10.9.9.9",
        "neigh add 10.1.0.2 lladdr 02:00:00:00:00 port 0",
    ],
    "neigh-full": [
        "neigh add 10.1.0.2 lladdr 02:00:00:00:00:02 port 0",
        "neigh add 10.1.0.3 lladdr 02:00:00:00:00:03 port 0",
        "neigh add 10.1.0.4 lladdr 02:00:00:00:00:04 port 0",
        "neigh add 10.1.0.5 lladdr 02:00:00:00:00:05 port 0",
        "neigh add 10.1.0.6 lladdr 02:00:00:00:00:06 port 0",
        "neigh add 10.1.0.7 lladdr 02:00:00:00:00:07 port 0",
        "neigh add 10.1.0.8 lladdr 02:00:00:00:00:08 port 0",
        "neigh add 10.1.0.9 lladdr 02:00:00:00:00:09 port 0",
        "neigh add 10.1.0.10 lladdr 02:00:00:00:00:0a port 0",
        "neigh add 10.1.0.11 lladdr 02:00:00:00:00:0b port 0",
    ],
    "port-settings": [
        "port 0 mtu 576",
        "port 1 mtu 9000",
        "port 2 mtu 68",
        "port 1 role core",
        "port 1 role access",
        "port 2 redirects on",
        "port 2 redirects off",
    ],
    "port-refused": [
        "port 0 mtu 67",
        "port 0 mtu 9703",
        "port 0 role edge",
        "port 0 redirects maybe",
        "port 5 mtu 1500",
        "port 0 speed 10",
    ],
    "nat-forward": [
        "nat add 192.168.11.4 to 10.0.0.4",
        "nat add 192.168.11.4 to 10.0.0.4",
        "nat del 192.168.11.4",
    ],
    "nat-local": [
        "nat add 192.168.11.3 to 192.168.10.3 local port 2",
        "nat add 192.168.11.3 to 192.168.10.3 local port 2 keep-source",
    ],
    "nat-epochs": [
        "nat add 192.168.11.77 to 192.168.10.77 local port 2 epoch 5",
        "nat add 192.168.11.77 to 192.168.10.78 epoch 4",
        "nat add 192.168.11.77 to 192.168.10.77 local port 2 epoch 5",
        "nat add 192.168.11.77 to 192.168.10.78 epoch 5",
        "nat add 192.168.11.77 to 192.168.10.78 epoch 6",
        "nat del 192.168.11.77 epoch 5",
        "nat del 192.168.11.77 epoch 7",
        "nat add 192.168.11.77 to 192.168.10.77 epoch 6",
        "nat add 192.168.11.77 to 192.168.10.77",
    ],
    "nat-withdraw": [
        "nat del 192.168.11.8 epoch 3",
        "nat add 192.168.11.8 to 10.0.0.8 epoch 2",
        "nat add 192.168.11.8 to 10.0.0.8 epoch 4",
    ],
    "nat-conflicts": [
        "address add 10.0.0.1/24 port 1",
        "nat add 192.168.11.3 to 192.168.10.3 local port 2",
        "nat add 192.168.11.99 to 192.168.10.3",
        "nat add 192.168.11.99 to 192.168.11.3",
        "nat add 192.168.11.99 to 10.0.0.1",
        "nat add 10.0.0.1 to 10.0.0.9",
        "nat add 1.2.3.4 to 1.2.3.4",
        "nat add 0.0.0.0 to 1.2.3.4",
        "nat add 1.2.3.4 to 5.6.7.8 local port 9",
        "nat add 1.2.3.4 to 5.6.7.8 epoch 0",
    ],
    "nat-full": [
        "nat add 192.168.11.1 to 10.0.0.1",
        "nat add 192.168.11.2 to 10.0.0.2",
        "nat add 192.168.11.3 to 10.0.0.3",
        "nat add 192.168.11.4 to 10.0.0.4",
        "nat add 192.168.11.5 to 10.0.0.5",
        "nat add 192.168.11.6 to 10.0.0.6",
        "nat add 192.168.11.7 to 10.0.0.7",
        "nat add 192.168.11.8 to 10.0.0.8",
        "nat add 192.168.11.9 to 10.0.0.9",
        "nat add 192.168.11.10 to 10.0.0.10",
    ],
    "nat-then-address": [
        "nat add 192.168.11.4 to 10.0.0.4",
        "address add 10.0.0.4/24 port 1",
        "address add 192.168.11.4/24 port 2",
    ],
    "proxy-arp": [
        "proxy-arp add 192.168.11.0/24 port 2",
        "proxy-arp add 192.168.11.0/24 port 2",
        "proxy-arp add 192.168.11.128/25 port 2",
        "proxy-arp del 192.168.11.0/24 port 2",
        "proxy-arp del 192.168.11.0/24 port 2",
        "proxy-arp add 0.0.0.0/0 port 1",
    ],
    "proxy-arp-refused": [
        "proxy-arp add 192.168.11.1/24 port 2",
        "proxy-arp add 192.168.11.0/24 port 8",
        "proxy-arp add 192.168.11.0/24",
    ],
    "arp-announce": [
        "address add 192.168.10.1/24 port 2",
        "proxy-arp add 192.168.11.0/24 port 2",
        "arp announce 192.168.11.0/24 port 2 count 2 interval 50",
        "arp announce 192.168.10.1 port 2",
        "arp announce 192.168.11.0/20 port 2",
        "arp announce 192.168.11.0/19 port 2",
    ],
    "arp-announce-refused": [
        "arp announce 10.0.0.0/24 port 0",
        "arp announce 10.0.0.1 port 0 count 0",
        "arp announce 10.0.0.1 port 0 interval 60001",
        "arp announce 10.0.0.1 port 0 count 3 bogus",
        "arp 10.0.0.1",
    ],
    "batch-commit": [
        "batch begin",
        "address add 10.1.0.1/24 port 0",
        "route add 10.8.0.0/16 via 10.1.0.2",
        "batch commit",
    ],
    "batch-refused": [
        "batch begin",
        "nat add 192.168.11.60 to 10.0.0.60",
        "nat add 192.168.11.61 to 10.0.0.60",
        "batch commit",
    ],
    "batch-abort": [
        "batch begin",
        "address add 10.1.0.1/24 port 0",
        "batch abort",
        "batch commit",
    ],
    "batch-with-show": [
        "batch begin",
        "show routes",
        "address add 10.1.0.1/24 port 0",
        "batch commit",
    ],
    "batch-with-garbage": [
        "batch begin",
        "address add 10.1.0.1/24 port 0",
        "frobnicate",
        "batch commit",
    ],
    "batch-nested": [
        "batch begin",
        "batch begin",
        "batch commit",
        "batch commit",
    ],
    "batch-then-delete-gateway": [
        "batch begin",
        "address add 10.1.0.1/24 port 0",
        "route add 10.8.0.0/16 via 10.1.0.2",
        "address del 10.1.0.1/24 port 0",
        "batch commit",
    ],
    "show": [
        "show ports",
        "show addresses",
        "show routes",
        "show neigh",
        "show stats",
        "show nat",
        "show nat 192.168.11.3",
        "show proxy-arp",
        "show nat bogus",
        "show everything",
    ],
    "stats-help": [
        "stats reset",
        "stats",
        "help",
        "help me",
    ],
    "garbage": [
        "",
        "",
        "# a comment",
        "   \t  ",
        "foo bar",
        "ADDRESS add 1.2.3.4/8 port 0",
        "address add 1.2.3.4/8 port 0 extra",
        "\x01\x02",
        "nat add ÿ",
    ],
    "service-switch-config": [
        "address add 203.0.113.1/24 port 0",
        "address add 10.0.0.1/24 port 1",
        "address add 192.168.10.1/24 port 2",
        "port 1 role core",
        "nat add 192.168.11.4 to 10.0.0.4",
        "nat add 192.168.11.3 to 192.168.10.3 local port 2",
        "proxy-arp add 192.168.11.0/24 port 2",
        "route add 0.0.0.0/0 via 203.0.113.254",
        "neigh add 203.0.113.254 lladdr 02:00:00:00:00:fe port 0",
        "address del 203.0.113.1/24 port 0",
    ],
}


# Inputs that reproduced router bugs the targets found, now fixed: regression seeds.
REGRESSION_COMMANDS = {
    "regression-static-neighbor-lost-by-nat-del": [
        "neigh add 192.168.11.3 lladdr 02:00:00:00:02:03 port 2",
        "nat add 192.168.11.3 to 192.168.10.3 local port 2",
        "nat del 192.168.11.3",
    ],
    "regression-static-neighbor-lost-by-nat-move": [
        "neigh add 192.168.11.3 lladdr 02:00:00:00:02:03 port 2",
        "nat add 192.168.11.3 to 192.168.10.3 local port 2",
        "nat add 192.168.11.3 to 192.168.10.3 local port 1",
    ],
}


def regression_frames():
    # A last fragment at offset 65440 with 1400 bytes (beyond 65535: a "ping of death"
    # piece), from port 1 to 203.0.113.10 behind port 0 (MTU 576): refragmenting it wrapped
    # the pieces' offsets into the MF bit; now it is refused (fragment_failed).
    pkt = (Ether(dst=US, src=CORE) / IP(src="10.0.0.2", dst="203.0.113.10", frag=8180, proto=17, id=0x4242) /
           Raw(bytes(range(256)) * 5 + b"\x00" * 120))
    return {"regression-fragment-offset-overflow": ctl(1) + bytes(pkt)}


def main():
    packet_dir = os.path.join(HERE, "corpus", "packet")
    command_dir = os.path.join(HERE, "corpus", "command")
    for d in (packet_dir, command_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    seeds = frames()
    for name, c, raw in seeds:
        with open(os.path.join(packet_dir, name), "wb") as f:
            f.write(c + raw)
    for name, lines in COMMANDS.items():
        with open(os.path.join(command_dir, name), "wb") as f:
            f.write("\n".join(lines).encode("latin-1"))
    for name, data in regression_frames().items():
        with open(os.path.join(packet_dir, name), "wb") as f:
            f.write(data)
    for name, lines in REGRESSION_COMMANDS.items():
        with open(os.path.join(command_dir, name), "wb") as f:
            f.write("\n".join(lines).encode())
    print(f"{len(seeds)} packet seeds, {len(COMMANDS)} command seeds, "
          f"{1 + len(REGRESSION_COMMANDS)} regression inputs", file=sys.stderr)


if __name__ == "__main__":
    main()
