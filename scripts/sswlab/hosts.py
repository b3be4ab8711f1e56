"""What real hosts do: ping, HTTP, traceroute, with their output parsed."""

import hashlib
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from .netns import wait_until


@dataclass
class PingResult:
    sent: int
    received: int
    rtts_ms: list
    reply_sources: set = field(default_factory=set)
    errors: list = field(default_factory=list)  # e.g. ("192.0.2.1", "Time to live exceeded")
    raw: str = ""

    @property
    def loss(self):
        return self.sent - self.received

    @property
    def mean_rtt(self):
        return sum(self.rtts_ms) / len(self.rtts_ms) if self.rtts_ms else None


def parse_ping(out):
    sent = received = 0
    rtts, sources, errors = [], set(), []
    for line in out.splitlines():
        m = re.match(r"\d+ bytes from ([\d.]+): icmp_seq=\d+ ttl=\d+ time=([\d.]+) ms", line)
        if m:
            sources.add(m.group(1))
            rtts.append(float(m.group(2)))
            continue
        m = re.match(r"From ([\d.]+)(?: icmp_seq=\d+)? (.+)$", line)
        if m:
            errors.append((m.group(1), m.group(2).strip()))
            continue
        m = re.match(r"(\d+) packets transmitted, (\d+) received", line)
        if m:
            sent, received = int(m.group(1)), int(m.group(2))
    return PingResult(sent, received, rtts, sources, errors, out)


def interruption_ms(ping_output, interval_ms):
    """The longest outage in a ping run: from the first lost request to the first answered
    one after it, in ms (0 when nothing was lost; None when nothing was answered)."""
    seqs = sorted(int(s) for s in re.findall(r"icmp_seq=(\d+) ttl", ping_output))
    if not seqs:
        return None
    worst = 0
    for a, b in zip(seqs, seqs[1:]):
        worst = max(worst, (b - a - 1) * interval_ms)
    return worst


def ping(ns, dst, count=5, interval=0.2, ttl=None, wait=1, size=None, timeout=None, df=False):
    cmd = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(wait)]
    if ttl:
        cmd += ["-t", str(ttl)]
    if size is not None:
        cmd += ["-s", str(size)]
    if df:
        cmd += ["-M", "do"]
    cmd.append(dst)
    res = ns.run(cmd, check=False, timeout=timeout or (count * interval + wait + 10))
    return parse_ping(res.stdout + res.stderr)


# http.server's HTTPServer calls getfqdn() on its address at bind time: a reverse DNS query
# that stalls for seconds. This one binds without it.
HTTP_SERVER = r"""
import http.server, os, socketserver, sys
os.chdir(sys.argv[3])
class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
Server((sys.argv[1], int(sys.argv[2])), Quiet).serve_forever()
"""


class HttpServer:
    """An HTTP server in a namespace, serving a directory with one random file."""

    def __init__(self, ns, bind, size=10 * 1024 * 1024, port=8080, name="blob.bin"):
        self.ns, self.bind, self.port, self.name = ns, bind, port, name
        self.dir = ns.topo.tmpdir("ssw-http-")
        data = os.urandom(size)
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = ns.popen(["/usr/bin/python3", "-c", HTTP_SERVER, bind, str(port), self.dir],
                             stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: self.proc.poll() is not None or
                       ns.run(["ss", "-ltn", f"sport = :{port}"]).stdout.count("LISTEN") > 0,
                       timeout=10, what="http server")
        finally:
            if self.proc.poll() is not None:
                with open(os.path.join(self.dir, "server.log")) as f:
                    raise RuntimeError(f"http server on {bind}:{port} exited: {f.read()}")

    @property
    def url(self):
        return f"http://{self.bind}:{self.port}/{self.name}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        self.log.close()


def http_get(ns, url, timeout=60):
    """Downloads url with curl; returns (sha256 of the body, curl's time_total in seconds)."""
    fd, path = tempfile.mkstemp(prefix="ssw-dl-")
    os.close(fd)
    try:
        res = ns.run(["curl", "-sS", "--max-time", str(timeout), "-o", path, "-w", "%{time_total}",
                      url], check=False, timeout=timeout + 5)
        if res.returncode != 0:
            raise AssertionError(f"curl {url} failed ({res.returncode}): {res.stderr}")
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        return digest, float(res.stdout.strip() or 0)
    finally:
        os.unlink(path)


def traceroute(ns, dst, max_hops=5):
    """The hops traceroute (ICMP probes) reports: a list of addresses (or '*')."""
    res = ns.run(["traceroute", "-n", "-I", "-w", "1", "-q", "1", "-m", str(max_hops), dst],
                 check=False, timeout=max_hops * 3 + 10)
    hops = []
    for line in res.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2:
            hops.append(parts[1])
    return hops


def arping(ns, ifname, target, count=2, source=None, unsolicited=False, dad=False, timeout=5):
    """Sends ARP requests for target from ns; returns the set of MACs that answered."""
    cmd = ["arping", "-c", str(count), "-w", str(timeout), "-I", ifname]
    if source:
        cmd += ["-s", source]
    if unsolicited:
        cmd.append("-U")
    if dad:
        cmd.append("-D")
    cmd.append(target)
    res = ns.run(cmd, check=False, timeout=timeout + 10)
    return {m.lower() for m in re.findall(r"\[([0-9A-Fa-f:]{17})\]", res.stdout)}


UDP_ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data, peer)
"""

UDP_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[3]))
s.connect((sys.argv[1], int(sys.argv[2])))
try:
    s.send(b"ssw-udp-probe")
    data, peer = s.recvfrom(65535)
    print("reply", peer[0], data.decode())
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
"""


def udp_echo_server(ns, bind, port):
    return ns.popen(["/usr/bin/python3", "-c", UDP_ECHO, bind, str(port)])


def udp_query(ns, dst, port, timeout=2.0):
    """One UDP datagram to dst:port on a connected socket: ('reply', source, text),
    ('refused',) when an ICMP port unreachable came back and matched the socket, or
    ('timeout',)."""
    res = ns.run(["/usr/bin/python3", "-c", UDP_CLIENT, dst, str(port), str(timeout)],
                 check=False, timeout=timeout + 10)
    return tuple(res.stdout.split())
