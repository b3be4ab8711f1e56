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


class HttpServer:
    """python3 -m http.server in a namespace, serving a directory with one random file."""

    def __init__(self, ns, bind, size=10 * 1024 * 1024, port=8080, name="blob.bin"):
        self.ns, self.bind, self.port, self.name = ns, bind, port, name
        self.dir = tempfile.mkdtemp(prefix="ssw-http-")
        data = os.urandom(size)
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.proc = ns.popen(["/usr/bin/python3", "-m", "http.server", str(port), "--bind", bind,
                              "--directory", self.dir])
        wait_until(lambda: ns.run(["ss", "-ltn", f"sport = :{port}"]).stdout.count("LISTEN") > 0,
                   timeout=10, what="http server")

    @property
    def url(self):
        return f"http://{self.bind}:{self.port}/{self.name}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)


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
