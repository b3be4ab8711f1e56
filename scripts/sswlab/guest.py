"""Real QEMU guests for the lab: a Debian kernel and a busybox initramfs under TCG, on a tap
in a bridge of a test namespace, live-migrated by QMP over a Unix socket (issue 22).

The image: the kernel of Debian's linux-image-cloud-amd64 (the smallest flavour; fetched with
`apt-get download` and unpacked, never installed) and an initramfs of the host's static
busybox, the kernel's virtio-net modules (modules in that flavour, not built in) and an /init
that configures eth0 from the kernel command line (ssw.ip=, ssw.gw=) and serves HTTP on port
80 (HTTP_PATH, www_1m()), TCP echo on ECHO_PORT, and ping. It boots in a few seconds without
KVM. build_image() makes it once per kernel package version and keeps it in a cache.

A guest's tap keeps QEMU's defaults (vnet_hdr on: the guest hands the host TSO frames and
partial checksums, as a production hypervisor does). After a migration the destination QEMU
sends RARPs with the guest's MAC, and the guest itself gratuitous ARPs (virtio-net's guest
announce): what a network sees of a real move.
"""

import glob
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from .netns import run, wait_until

QEMU_BIN = shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"
BUSYBOX = "/bin/busybox"  # busybox-static's: the initramfs has no libc
KERNEL_META = "linux-image-cloud-amd64"
CACHE_DIR = "/var/cache/ssw-guest"
# The modules eth0 needs: these and what modules.dep says they need, in load order.
MODULE_ROOTS = ("virtio_pci", "virtio_net")
READY = "ssw-guest ready"
HTTP_PORT = 80
HTTP_PATH = "/1m"
ECHO_PORT = 5000
# A build left behind by a process killed before its clean-up, once older than this (s).
STALE_BUILD_S = 3600

INIT = r"""#!/bin/busybox sh
# /init of an ssw lab guest (scripts/sswlab/guest.py). Every failure ends in a line on the
# console and a power-off: QEMU (-no-reboot) exits, and the lab reports the console.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# Over the kernel's own initramfs /dev, whose console this script already writes to.
mount -t devtmpfs devtmpfs /dev
fail() {
    echo "ssw-guest failed: $*"
    poweroff -f
}
for m in @MODULES@; do
    insmod /lib/modules/$m.ko || fail "insmod $m"
done
for arg in $(cat /proc/cmdline); do
    case $arg in
        ssw.ip=*) ip=${arg#ssw.ip=} ;;
        ssw.gw=*) gw=${arg#ssw.gw=} ;;
    esac
done
[ -n "$ip" ] && [ -n "$gw" ] || fail "no ssw.ip= and ssw.gw= on the kernel command line"
[ -e /sys/class/net/eth0 ] || fail "no eth0 after loading the modules"
# No IPv6, as in the lab's namespaces: no ND or MLD on the segments.
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
ip link set lo up
ip addr add "$ip" dev eth0 && ip link set eth0 up && ip route add default via "$gw" ||
    fail "network configuration"
httpd -p @HTTP_PORT@ -h /www || fail httpd
nc -ll -p @ECHO_PORT@ -e /bin/cat &
n=0
until netstat -ltn | grep -q ":@ECHO_PORT@ "; do
    n=$((n + 1))
    [ $n -lt 100 ] || fail "echo server not listening"
    usleep 20000
done
echo "@READY@ ip=$ip gw=$gw mac=$(cat /sys/class/net/eth0/address)"
while :; do
    sleep 3600
done
"""


def www_1m():
    """The 1 MiB the guest serves at HTTP_PATH: line i is i in 15 digits and a newline, so a
    client can check every byte and tell where a corruption is."""
    return b"".join(b"%015d\n" % i for i in range(65536))


@dataclass
class GuestImage:
    kernel: str  # bzImage
    initrd: str  # gzip'd newc cpio
    package: str  # the kernel's Debian package and version
    version: str
    release: str  # uname -r
    modules: list  # loaded by /init, in this order


def build_image(cache_dir=None):
    """The guest image, built on first use and then kept in cache_dir (default
    $SSW_GUEST_CACHE, else CACHE_DIR) under a name of the kernel package, its version and a
    digest of what goes into the initramfs, so that a new kernel or an edited /init makes a
    new image. Built in a temporary directory renamed into place when complete: an
    interrupted build is never used, and of two concurrent builds the first rename wins."""
    cache_dir = cache_dir or os.environ.get("SSW_GUEST_CACHE") or CACHE_DIR
    package, version = kernel_package()
    recipe = hashlib.sha256(INIT.encode() + repr(MODULE_ROOTS).encode() + www_1m())
    final = os.path.join(cache_dir, f"{package}_{version}_{recipe.hexdigest()[:12]}")
    if not os.path.exists(final):
        os.makedirs(cache_dir, exist_ok=True)
        remove_stale_builds(cache_dir)
        tmp = tempfile.mkdtemp(prefix=".build-", dir=cache_dir)
        try:
            os.chmod(tmp, 0o755)  # mkdtemp's 0700 would keep the image from other users
            _build(tmp, package, version)
            try:
                os.rename(tmp, final)
            except OSError:
                if not os.path.exists(final):  # else another run finished first
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    with open(os.path.join(final, "image.json")) as f:
        meta = json.load(f)
    return GuestImage(kernel=os.path.join(final, "vmlinuz"),
                      initrd=os.path.join(final, "initrd.gz"), **meta)


def kernel_package():
    """(package, version) of the kernel linux-image-cloud-amd64 stands for, as apt knows it
    (the meta package pins it: Depends: linux-image-R-cloud-amd64 (= V))."""
    res = run(["apt-cache", "show", "--no-all-versions", KERNEL_META], check=False)
    m = re.search(r"^Depends:.*?\b(linux-image-[^\s,]+) \(= ([^)\s]+)\)", res.stdout, re.M)
    if not m:
        raise RuntimeError(f"apt-cache knows no {KERNEL_META} depending on one kernel version "
                           f"(run apt-get update?): {res.stderr.strip() or res.stdout}")
    return m.group(1), m.group(2)


def remove_stale_builds(cache_dir):
    """Removes the temporary directories of builds whose process was killed (a SIGTERM from a
    test runner's time-out skips every clean-up)."""
    for d in glob.glob(os.path.join(cache_dir, ".build-*")):
        try:
            if time.time() - os.path.getmtime(d) > STALE_BUILD_S:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def _build(d, package, version):
    """Builds the image in directory d: vmlinuz, initrd.gz, image.json."""
    status = run(["dpkg-query", "-W", "-f", "${Status}", "busybox-static"], check=False).stdout
    if "installed" not in status.split():
        raise RuntimeError("the guest's initramfs needs busybox-static (apt-get install "
                           "busybox-static): a dynamic busybox finds no libc in it")
    res = run(["apt-get", "download", f"{package}={version}"], check=False, timeout=600, cwd=d)
    debs = glob.glob(os.path.join(d, "*.deb"))
    if res.returncode != 0 or len(debs) != 1:
        raise RuntimeError(f"apt-get download {package}={version} failed ({res.returncode}; "
                           f"network or apt sources?): {res.stderr.strip()}")
    root = os.path.join(d, "pkg")
    run(["dpkg-deb", "-x", debs[0], root], timeout=300)
    (release,) = os.listdir(os.path.join(root, "lib/modules"))
    shutil.copy(os.path.join(root, "boot", f"vmlinuz-{release}"), os.path.join(d, "vmlinuz"))
    moddir = os.path.join(root, "lib/modules", release)
    # The package has no modules.dep: its postinst runs depmod. busybox's reads .ko and .ko.xz.
    if not os.path.exists(os.path.join(moddir, "modules.dep")):
        run([BUSYBOX, "depmod", "-b", root, release], timeout=300)
    modules = load_order(moddir, MODULE_ROOTS)

    tree = os.path.join(d, "initramfs")
    for sub in ("bin", "dev", "proc", "sys", "tmp", "www", "lib/modules"):
        os.makedirs(os.path.join(tree, sub))
    shutil.copy(BUSYBOX, os.path.join(tree, "bin/busybox"))
    names = []
    for path in modules:
        name = module_name(path)
        with open(os.path.join(moddir, path), "rb") as f:
            data = f.read()
        # busybox's insmod loads a file as it is: decompress here.
        if path.endswith(".ko.xz"):
            data = lzma.decompress(data)
        elif not path.endswith(".ko"):
            raise RuntimeError(f"{path}: only .ko and .ko.xz modules are supported")
        with open(os.path.join(tree, "lib/modules", name + ".ko"), "wb") as f:
            f.write(data)
        names.append(name)
    with open(os.path.join(tree, "www", HTTP_PATH.lstrip("/")), "wb") as f:
        f.write(www_1m())
    init = (INIT.replace("@MODULES@", " ".join(names)).replace("@READY@", READY)
            .replace("@HTTP_PORT@", str(HTTP_PORT)).replace("@ECHO_PORT@", str(ECHO_PORT)))
    with open(os.path.join(tree, "init"), "w") as f:
        f.write(init)
    os.chmod(os.path.join(tree, "init"), 0o755)

    entries = []
    for top, dirs, files in os.walk(tree):
        dirs.sort()
        rel = os.path.relpath(top, tree)
        if rel != ".":
            entries.append(rel)
        entries += [os.path.normpath(os.path.join(rel, f)) for f in sorted(files)]
    cpio = subprocess.run([BUSYBOX, "cpio", "-o", "-H", "newc"], cwd=tree, check=False,
                          input="\n".join(entries).encode() + b"\n", capture_output=True)
    if cpio.returncode != 0:
        raise RuntimeError(f"busybox cpio failed: {cpio.stderr.decode(errors='replace')}")
    with open(os.path.join(d, "initrd.gz"), "wb") as f:
        f.write(gzip.compress(cpio.stdout))
    with open(os.path.join(d, "image.json"), "w") as f:
        json.dump(dict(package=package, version=version, release=release, modules=names), f)
    for leftover in (root, tree, *debs):
        if os.path.isdir(leftover):
            shutil.rmtree(leftover)
        else:
            os.unlink(leftover)


def module_name(path):
    """kernel/drivers/net/virtio_net.ko.xz -> virtio_net (the kernel's name: '-' is '_')."""
    base = os.path.basename(path)
    return base[:base.index(".ko")].replace("-", "_")


def load_order(moddir, roots):
    """The modules (paths as modules.dep writes them) that load roots, each after those it
    depends on. Roots built into the kernel need none."""
    deps = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            mod, _, rest = line.partition(":")
            deps[mod] = rest.split()
    builtin = set()
    if os.path.exists(os.path.join(moddir, "modules.builtin")):
        with open(os.path.join(moddir, "modules.builtin")) as f:
            builtin = {module_name(line.strip()) for line in f if line.strip()}
    by_name = {module_name(p): p for p in deps}
    order = []

    def visit(path):
        if path not in order:
            for dep in deps[path]:
                visit(dep)
            order.append(path)

    for r in roots:
        if r in builtin:
            continue
        if r not in by_name:
            raise RuntimeError(f"no module {r} in {moddir}")
        visit(by_name[r])
    return order


class QMPError(RuntimeError):
    """QEMU answered a QMP command with an error."""


class QMP:
    """A QMP client on QEMU's Unix socket: the capabilities handshake, then one command at a
    time. Events arrive between replies; they are kept, in order, in self.events (e.g. STOP,
    RESUME) for a test to look at."""

    def __init__(self, path, timeout=10.0):
        self.events = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(path)
            self.file = self.sock.makefile("rb")
            if "QMP" not in self._read():
                raise QMPError(f"{path}: no QMP greeting")
            self.cmd("qmp_capabilities")
        except BaseException:
            self.sock.close()
            raise

    def _read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("QEMU closed its QMP socket")
        return json.loads(line)

    def cmd(self, name, arguments=None):
        """Runs command name with arguments (a dict); returns its "return" value."""
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
            elif "error" in reply:
                raise QMPError(f"{name}: {reply['error'].get('desc', reply['error'])}")
            else:
                return reply["return"]

    def close(self):
        self.file.close()
        self.sock.close()


class Guest:
    """One QEMU guest (TCG) in namespace ns, its tap a port of `bridge` there, with address ip
    (A.B.C.D/len) and default gateway gw on eth0, MAC mac. name: unique among the guests of
    ns (the tap is tap-NAME, cut to 15 characters). image: a GuestImage, by default
    build_image()'s.

    incoming: None for a guest that boots; else it is the destination of a migration,
    listening on a Unix socket (a path, or True for one in its directory) with the same
    parameters as the source (destination() makes one). Its console stays empty: the guest
    booted elsewhere.

    The QEMU process is the topology's (ns.popen): topo.close() ends it, and removes the
    directory of its console log (console.log), QEMU's output (qemu.log) and sockets, which
    stay with SSW_KEEP_TMP. Returns once QMP answers and the tap is on the bridge (before any
    migration to it can complete); wait_ready() waits for the guest's services."""

    def __init__(self, ns, bridge, ip, gw, mac, name="vm", image=None, incoming=None,
                 memory_mib=128):
        self.ns, self.bridge, self.ip, self.gw, self.mac = ns, bridge, ip, gw, mac
        self.name, self.memory_mib = name, memory_mib
        self.image = image or build_image()
        self.tap = f"tap-{name}"[:15]
        self.dir = ns.topo.tmpdir(f"ssw-guest-{name}-")
        self.console_path = os.path.join(self.dir, "console.log")
        self.qemu_log = os.path.join(self.dir, "qemu.log")
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        self.incoming = os.path.join(self.dir, "migrate.sock") if incoming is True else incoming
        self.qmp = None
        argv = [QEMU_BIN, "-accel", "tcg", "-m", str(memory_mib), "-nographic", "-nodefaults",
                "-no-reboot", "-serial", f"file:{self.console_path}",
                "-kernel", self.image.kernel, "-initrd", self.image.initrd,
                "-append", f"console=ttyS0 panic=1 quiet ssw.ip={ip} ssw.gw={gw}",
                "-netdev", f"tap,id=n0,ifname={self.tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=n0,mac={mac}",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        if self.incoming:
            argv += ["-incoming", f"unix:{self.incoming}"]
        with open(self.qemu_log, "w") as log:
            self.started = time.monotonic()
            self.proc = ns.popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT)
        try:
            self.qmp = wait_until(self._connect, timeout=30, what=f"QMP of guest {name}",
                                  ignore=(OSError,))
            # QEMU creates its netdevs before its main loop answers QMP: the tap is there.
            ns.run(["ip", "link", "set", "dev", self.tap, "master", bridge])
            ns.run(["ip", "link", "set", "dev", self.tap, "up"])
        except Exception:
            self.close()
            raise

    def _connect(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"QEMU of guest {self.name} exited ({self.proc.returncode}): "
                               f"{self.output()}")
        return QMP(self.qmp_path)

    def destination(self, bridge, ns=None, name=None):
        """A guest to migrate this one to: same image, memory, addresses and MAC, its tap on
        `bridge` of ns (default: this guest's namespace), named NAME (default: NAME-dst)."""
        return Guest(ns or self.ns, bridge, self.ip, self.gw, self.mac,
                     name=name or f"{self.name}-dst", image=self.image, incoming=True,
                     memory_mib=self.memory_mib)

    # -- what it says --
    def console(self):
        """What the guest wrote on its serial console so far."""
        try:
            with open(self.console_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def output(self):
        """QEMU's own output (errors such as a tap it could not open) and the console's tail."""
        with open(self.qemu_log, errors="replace") as f:
            qemu = f.read().strip()
        return f"{qemu}\nconsole: ...{self.console()[-2000:]}"

    def wait_ready(self, timeout=60):
        """Waits for the guest's ready line (services up); returns the seconds since QEMU
        started. RuntimeError with the console when QEMU exits or time runs out first."""
        deadline = time.monotonic() + timeout
        while READY not in self.console():
            if self.proc.poll() is not None:
                raise RuntimeError(f"guest {self.name} exited ({self.proc.returncode}) before "
                                   f"it was ready: {self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"guest {self.name} not ready after {timeout} s: "
                                   f"{self.output()}")
            time.sleep(0.05)
        return time.monotonic() - self.started

    def status(self):
        """QEMU's run state: running, inmigrate (a destination waiting), postmigrate (a
        migrated source), paused, ..."""
        return self.qmp.cmd("query-status")["status"]

    def rss_kib(self):
        """The QEMU process's resident memory in KiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))

    # -- what it does --
    def migrate(self, dest, timeout=120):
        """Live-migrates this guest to dest (a Guest started with incoming), with QEMU's
        default bandwidth and downtime limits, polling until the migration ends. Returns
        status (completed, failed or cancelled), total_time and downtime (ms, as QEMU
        measures them), error (QEMU's description, or None) and info (the last
        query-migrate). Cancels it, then raises TimeoutError, after timeout s."""
        if not dest.incoming:
            raise ValueError(f"guest {dest.name} was not started as a migration destination")
        self.qmp.cmd("migrate", {"uri": f"unix:{dest.incoming}"})
        deadline = time.monotonic() + timeout
        while True:
            info = self.qmp.cmd("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                self.qmp.cmd("migrate_cancel")
                raise TimeoutError(f"migration of {self.name} not done after {timeout} s: {info}")
            time.sleep(0.05)
        return dict(status=info["status"], total_time=info.get("total-time"),
                    downtime=info.get("downtime"), error=info.get("error-desc"), info=info)

    def announce_self(self, rounds=5, initial=50, max_ms=550, step=100):
        """QEMU announces the guest again, as after a migration: `rounds` RARPs (and a request
        to the guest to gratuitously ARP), the first after initial ms, then step ms more each
        time up to max_ms."""
        self.qmp.cmd("announce-self", {"initial": initial, "max": max_ms, "rounds": rounds,
                                       "step": step})

    def quit(self, timeout=10):
        """Ends QEMU through QMP; returns its exit status."""
        try:
            self.qmp.cmd("quit")
        except ConnectionError:
            pass  # it closed the socket before its reply arrived
        self.qmp.close()
        self.qmp = None
        self.proc.wait(timeout=timeout)
        return self.ns.topo.stop(self.proc)

    def close(self):
        """Ends QEMU (by PID) if it runs; QEMU removes the tap."""
        if self.qmp:
            self.qmp.close()
            self.qmp = None
        self.ns.topo.stop(self.proc)


ECHO_CLIENT = r"""
import json, os, select, socket, sys, time
ip, port, interval, drain = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.create_connection((ip, port), timeout=10)
print("connected", flush=True)
sent = echoed = 0
in_order, error, buf = True, None, b""
last = time.monotonic()
max_gap = 0.0
next_send, stopping = last, None
try:
    while True:
        now = time.monotonic()
        if stopping is None and now >= next_send:
            s.sendall(b"%08d\n" % sent)
            sent += 1
            next_send = now + interval
        if stopping is not None and (echoed >= sent or now - stopping > drain):
            break
        if stopping is None:  # stdin (0) open: sending, until its end
            watch, wait = [s, 0], max(0.0, next_send - now)
        else:
            watch, wait = [s], 0.1
        ready = select.select(watch, [], [], wait)[0]
        if 0 in ready and not os.read(0, 1):
            stopping = time.monotonic()
        if s in ready:
            data = s.recv(65536)
            if not data:
                error = "closed by the guest"
                break
            now = time.monotonic()
            max_gap, last = max(max_gap, now - last), now
            *lines, buf = (buf + data).split(b"\n")
            for line in lines:
                in_order = in_order and line == b"%08d" % echoed
                echoed += 1
except OSError as e:
    error = repr(e)
print(json.dumps(dict(sent=sent, echoed=echoed, in_order=in_order, error=error,
                      max_gap_ms=round(max_gap * 1000))), flush=True)
"""


class EchoStream:
    """A TCP connection from namespace ns to a guest's echo server that sends a numbered line
    every `interval` s until finish() and checks each echo: whether a connection survives a
    migration. Started (connected) by the constructor."""

    def __init__(self, ns, ip, port=ECHO_PORT, interval=0.02, drain=10.0):
        self.ns, self.drain = ns, drain
        self.proc = ns.popen([sys.executable, "-c", ECHO_CLIENT, ip, str(port), str(interval),
                              str(drain)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        # The client's connect times out after 10 s, and then it exits: readline returns.
        if self.proc.stdout.readline().strip() != "connected":
            err = self.proc.communicate(timeout=10)[1]
            ns.topo.stop(self.proc)
            raise RuntimeError(f"echo client could not connect to {ip}:{port}: {err}")

    def finish(self):
        """Stops sending, waits up to drain s for the echoes still on their way; returns sent,
        echoed (lines), in_order (every echo was the next line), error (None: no reset, no
        close) and max_gap_ms (the longest time without an echo)."""
        try:
            out, err = self.proc.communicate(input="", timeout=self.drain + 10)
        finally:
            self.ns.topo.stop(self.proc)
        lines = out.strip().splitlines()
        if not lines:
            raise RuntimeError(f"echo client said nothing: {err}")
        return json.loads(lines[-1])
