"""Case storm (c): forwarding with 1M bindings while they are rewritten, then the
translation check: a shorter run with the tx port captured, every packet checked."""

import collections
import math
import random
import struct
import threading
import time

from ..common import (CARE_OF_BASE, HOME_BASE, ROUTER_CONF, STORM_CARE_OF_BASE, BenchError,
                      ip_str, log)
from ..pcap import csum, read_pcap


class Storm(threading.Thread):
    """Re-binds random home addresses to fresh care-of addresses, in `sswctl batch` files
    of `batch` updates with increasing epochs, as fast as the router takes them.

    The files are written before the storm starts (prepare): writing one in Python takes
    about as long as the router takes to apply it, on the control thread's CPU, and would
    halve the rate measured. Should they run out, the rest are written on the way."""

    def __init__(self, bench, router, n, batch, history):
        super().__init__(daemon=True)
        self.b, self.router, self.n, self.batch = bench, router, n, batch
        self.history = history  # M index -> list of care-of addresses it was given
        self.epoch = {}
        self.next_care_of = STORM_CARE_OF_BASE + 1
        self.stop_flag = threading.Event()
        self.applied = 0
        self.batches = 0
        self.error = None
        self.elapsed = 0.0
        self.rng = random.Random(1)
        self.ready = collections.deque()  # (path, {M index: care-of}) written, not applied
        self.written = 0
        self.written_on_the_way = 0

    def write_batch(self):
        path = self.b.wd / f"storm-{id(self)}-{self.written}.txt"
        self.written += 1
        given, lines = {}, []
        for i in self.rng.sample(range(self.n), self.batch):
            e = self.epoch.get(i, 1) + 1
            self.epoch[i] = e
            c = self.next_care_of
            self.next_care_of += 1
            given[i] = c
            lines.append(f"nat add {ip_str(HOME_BASE + 1 + i)} to {ip_str(c)} epoch {e}\n")
        path.write_text("".join(lines))
        return path, given

    def prepare(self, seconds, rate=200_000):
        """Writes the files for `seconds` of updates at `rate` per second."""
        for _ in range(max(1, math.ceil(seconds * rate / self.batch))):
            self.ready.append(self.write_batch())

    def run(self):
        t0 = time.monotonic()
        try:
            while not self.stop_flag.is_set():
                if self.ready:
                    path, given = self.ready.popleft()
                else:
                    path, given = self.write_batch()
                    self.written_on_the_way += 1
                r = self.router.sswctl("batch", str(path), check=False, timeout=120)
                if r.returncode != 0:
                    self.error = f"sswctl batch failed ({r.returncode}): {r.stderr.strip()[:500]}"
                    return
                for i, c in given.items():
                    self.history.setdefault(i, []).append(c)
                path.unlink(missing_ok=True)
                self.applied += self.batch
                self.batches += 1
        except Exception as e:  # reported by the caller
            self.error = repr(e)
        finally:
            self.elapsed = time.monotonic() - t0
            for path, _ in self.ready:
                path.unlink(missing_ok=True)


def storm_config(b, n):
    return ROUTER_CONF + b.bindings_file(n).read_text()


def case_storm(b):
    n = (1 << 14) if b.a.quick else (1 << 20)
    batch = 1000 if b.a.quick else b.a.storm_batch
    frames = b.a.frames if b.a.quick else b.a.nat_frames
    pcap = b.nat_pcap(n, frames)
    mbufs = b.mbufs_for(frames)
    mem_mb = mbufs * 2304 // (1 << 20) + 384
    vdevs = [f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "net_null0,no-rx=1"]
    for rep in range(b.a.repeat):
        log(f"storm: repetition {rep + 1}/{b.a.repeat} ({n} bindings in the startup file)")
        t0 = time.monotonic()
        proc = b.start_ssw("storm", "1", vdevs, storm_config(b, n), mbufs, mem_mb,
                           ["--nat-capacity", str(n)], ready_timeout=1200)
        startup = time.monotonic() - t0
        try:
            count = b.ssw_count(proc.ctl)
            b.wait_flowing("storm", count, [proc])
            quiet = b.measure(count, [proc], b.lab.procs)
            quiet["startup_seconds"] = round(startup, 1)
            b.add_sample("storm", "no updates", quiet)
            storm = Storm(b, proc.router, n, batch, {})
            storm.prepare(b.a.warmup + b.a.duration + 1)
            storm.start()
            stormy = b.measure(count, [proc], b.lab.procs)
            storm.stop_flag.set()
            storm.join(timeout=180)
            if storm.is_alive():
                raise BenchError("the update storm did not stop within 180 s")
            if storm.error:
                raise BenchError(f"update storm: {storm.error}")
            stormy["updates"] = storm.applied
            stormy["updates_per_s"] = storm.applied / storm.elapsed if storm.elapsed else 0
            stormy["storm_seconds"] = round(storm.elapsed, 2)
            if storm.written_on_the_way:
                stormy["batches_written_during_storm"] = storm.written_on_the_way
            drops = b.ssw_drops(proc.ctl)
            if drops:
                stormy["drops"] = drops
            b.add_sample("storm", "during updates", stormy)
            log(f"  storm: {storm.applied} updates in {storm.elapsed:.1f}s = "
                f"{stormy['updates_per_s'] / 1e3:.0f}k/s")
        finally:
            b.lab.stop(proc)
    storm_check(b, n, batch, pcap, mbufs, mem_mb)


def storm_check(b, n, batch, pcap, mbufs, mem_mb):
    """A shorter run with the tx port captured to a pcap file: every packet's destination
    must be a care-of address its original destination (carried in the payload) held at
    some point, and sampled packets must have correct IPv4 and UDP checksums."""
    out = b.wd / "storm-out.pcap"
    out.unlink(missing_ok=True)
    vdevs = [f"net_pcap0,rx_pcap={pcap},infinite_rx=1", f"net_pcap1,tx_pcap={out}"]
    log("storm check: capturing the tx port while bindings change")
    history = {}
    proc = b.start_ssw("storm-check", "1", vdevs, storm_config(b, n), mbufs, mem_mb,
                       ["--nat-capacity", str(n)], ready_timeout=1200)
    storm = Storm(b, proc.router, n, batch, history)
    try:
        storm.prepare(b.a.check_seconds + 1)
        storm.start()
        time.sleep(b.a.check_seconds)
        storm.stop_flag.set()
        storm.join(timeout=180)
        if storm.error:
            raise BenchError(f"update storm: {storm.error}")
        tx = proc.ctl.ctl("show stats")["counters"]["tx_packets"]
    finally:
        b.lab.stop(proc)
    total = ok = untranslated = wrong = bad_sum = summed = 0
    examples = []
    for i, fr in enumerate(read_pcap(out)):
        total += 1
        if len(fr) < 14 + 20 + 8 + 4 or fr[12:14] != b"\x08\x00":
            wrong += 1
            continue
        dst = struct.unpack_from("!I", fr, 30)[0]
        orig = struct.unpack_from("!I", fr, 42)[0]
        m = orig - HOME_BASE - 1
        if dst == orig:
            untranslated += 1
        elif 0 <= m < n and (dst == CARE_OF_BASE + 1 + m or dst in history.get(m, ())):
            ok += 1
        else:
            wrong += 1
            if len(examples) < 5:
                examples.append(f"{ip_str(orig)} -> {ip_str(dst)}")
        if i % 16 == 0:
            summed += 1
            ip = fr[14:34]
            udp_len = struct.unpack_from("!H", fr, 38)[0]
            pseudo = fr[26:34] + struct.pack("!BBH", 0, 17, udp_len)
            if csum(ip) != 0 or csum(pseudo + fr[34:34 + udp_len]) != 0:
                bad_sum += 1
    result = {"captured": total, "router_tx": tx, "correct": ok, "untranslated": untranslated,
              "wrong": wrong, "checksums_checked": summed, "bad_checksums": bad_sum,
              "updates": storm.applied, "updates_per_s": storm.applied / storm.elapsed if storm.elapsed else 0,
              "examples": examples, "seconds": b.a.check_seconds}
    b.storm_check_result = result
    log(f"  storm check: {total} packets captured, {ok} correct, {untranslated} untranslated, "
        f"{wrong} wrong, {bad_sum}/{summed} bad checksums, {storm.applied} updates")
    out.unlink(missing_ok=True)
    if wrong or untranslated or bad_sum or total == 0:
        raise BenchError(f"storm check failed: {result}")
