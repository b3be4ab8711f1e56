"""The frames the forwarders replay (pcap files for the pcap PMD), and reading back what a
forwarder sent (tx_pcap)."""

import mmap
import os
import struct

from .common import PCAP_MAC, SRC_IP, SRC_MAC, BenchError, ip_int


def csum(data):
    """The Internet checksum (RFC 1071) of data: 0 over a header that carries a correct one."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(dmac, smac, src, dst, sport, dport):
    """A 60-byte Ethernet frame (64 on the wire with the FCS): IPv4/UDP, checksums correct. The
    payload's first 4 bytes carry the original destination, so that a capture after
    translation can be checked packet by packet."""
    payload = struct.pack("!I", dst) + bytes(14)
    udp_len = 8 + len(payload)
    ip = bytearray(struct.pack("!BBHHHBBHII", 0x45, 0, 20 + udp_len, 0, 0x4000, 64, 17, 0, src, dst))
    ip[10:12] = struct.pack("!H", csum(bytes(ip)))
    pseudo = struct.pack("!IIBBH", src, dst, 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0)
    c = csum(pseudo + udp + payload) or 0xFFFF
    udp = struct.pack("!HHHH", sport, dport, udp_len, c)
    return dmac + smac + b"\x08\x00" + bytes(ip) + udp + payload


def write_pcap(path, dsts, dmac=PCAP_MAC):
    dm = bytes.fromhex(dmac.replace(":", ""))
    sm = bytes.fromhex(SRC_MAC.replace(":", ""))
    src = ip_int(SRC_IP)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, d in enumerate(dsts):
            fr = udp_frame(dm, sm, src, d, 1024 + (i & 0x3FFF), 9)
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    """Yields every frame of a pcap file (either timestamp resolution), as bytes."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size < 24:
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            magic = struct.unpack_from("<I", data, 0)[0]
            if magic not in (0xA1B2C3D4, 0xA1B23C4D):
                raise BenchError(f"{path}: not a little-endian pcap file")
            off, end = 24, len(data)
            while off + 16 <= end:
                incl = struct.unpack_from("<I", data, off + 8)[0]
                yield data[off + 16 : off + 16 + incl]
                off += 16 + incl
