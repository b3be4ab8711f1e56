"""Everything a run starts, on scripts/sswlab: processes (each with its log file in the
work directory, stopped by its PID), ssw-routers (sswlab.router.Router), network namespaces,
and the EAL's files (sswlab.eal), all stopped and removed by cleanup(), after every case and
at exit. DPDK's telemetry socket, through which testpmd and l3fwd are counted."""

import json
import os
import shlex
import signal
import socket
import subprocess
from pathlib import Path

from sswlab.eal import RUNTIME_DIR
from sswlab.netns import Topology, wait_until
from sswlab.router import Router, RouterError

from .common import BenchError, log


class Proc:
    """A process of the run: its name in the log, its Popen, its log file, its EAL
    --file-prefix, and for an ssw-router its sswlab Router and control connection."""

    def __init__(self, name, popen, log_path, prefix=None, router=None):
        self.name, self.p, self.log, self.prefix = name, popen, log_path, prefix
        self.router = router
        self.ctl = None  # sswlab.router.ControlClient, once the router answers

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def tail(self, n=15):
        try:
            lines = Path(self.log).read_text(errors="replace").splitlines()
            return "\n".join("    " + l for l in lines[-n:])
        except OSError:
            return "    (no log)"


class Lab:
    """The processes and namespaces of this invocation, in an sswlab Topology (made when
    first needed, closed by cleanup(): one per case), so that all of it is stopped and
    removed. Process logs go to WORKDIR/logs, numbered in the order of starting."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs = []
        self.counter = 0
        self.topo = None

    def topology(self):
        if self.topo is None:
            self.topo = Topology("b")
        return self.topo

    def unique(self, name):
        """name with a number never used before in this run: an EAL --file-prefix (after
        the topology's prefix) or a log file's name."""
        self.counter += 1
        return f"{name}{self.counter}"

    def prefix(self, name):
        return self.topology().prefix + self.unique(name)

    def ns(self, short):
        """A network namespace (sswlab: lo up, no IPv6), removed by cleanup()."""
        return self.topology().ns(short)

    def _log_path(self, name):
        self.counter += 1
        return self.logs / f"{self.counter:03d}-{name}.log"

    @staticmethod
    def _log_command(path, argv):
        Path(path).write_text("$ " + shlex.join(str(a) for a in argv) + "\n")

    def _started(self, proc):
        self.procs.append(proc)
        log(f"  started {proc.name} (pid {proc.pid})")  # cycle_split.py names processes by this line
        return proc

    def start(self, name, argv, stdin_pipe=False, prefix=None, env=None):
        """Starts a process in the root namespace, in a session of its own (Ctrl-C reaches
        only this script, which stops it)."""
        log_path = self._log_path(name)
        self._log_command(log_path, argv)
        with open(log_path, "a") as lf:
            p = self.topology().popen(argv, stdout=lf, stderr=subprocess.STDOUT,
                                      stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                                      start_new_session=True,
                                      env={**os.environ, **env} if env else None)
        return self._started(Proc(name, p, log_path, prefix))

    def start_router(self, name, binary, lcores, vdevs, conf_path, eal_memory, extra_args,
                     ns=None, ports=()):
        """Starts an ssw-router (sswlab Router; in namespace ns, else the root namespace)
        without waiting for it: wait_router does."""
        r = Router(self.topology(), ns, self.unique(name), ports, lcores=lcores, vdevs=vdevs,
                   config_path=str(conf_path), binary=str(binary), eal_memory=eal_memory,
                   extra_args=extra_args, log_path=str(self._log_path(name)))
        self._log_command(r.log_path, r.argv)
        r.start(wait=False, stdin=subprocess.DEVNULL, start_new_session=True)
        return self._started(Proc(name, r.proc, r.log_path, r.prefix, router=r))

    def wait_router(self, proc, timeout):
        """Waits until the router's control socket answers `show stats`; keeps that
        connection as proc.ctl."""
        def answers():
            if not os.path.exists(proc.router.socket):
                return None
            c = proc.router.client(timeout=30)
            try:
                c.ctl("show stats")
            except BaseException:
                c.close()
                raise
            return c
        proc.ctl = wait_for(f"{proc.name}'s control socket", answers, timeout, [proc])
        return proc.ctl

    def stop(self, proc, timeout=15):
        """SIGTERM, SIGKILL after timeout s; then removes its EAL files."""
        was_running = proc.alive()
        code = self.topology().stop(proc.p, timeout)
        if was_running and code == -signal.SIGKILL:
            log(f"{proc.name} (pid {proc.pid}) ignored SIGTERM for {timeout}s: SIGKILL")
        if proc.p.stdin:
            try:
                proc.p.stdin.close()
            except OSError:
                pass
        if proc.ctl:
            proc.ctl.close()
        if proc.router and proc.p.poll() is not None:
            proc.router.wait(timeout=0)  # it has exited: closes its log
        if proc in self.procs:
            self.procs.remove(proc)
        if proc.prefix:
            self.topology().remove_eal_files(proc.prefix)
        return code

    def cleanup(self):
        """Stops every process, removes the namespaces and every EAL file of the run."""
        for proc in list(reversed(self.procs)):
            self.stop(proc, timeout=10)
        if self.topo is not None:
            self.topo.close()
            self.topo = None


def wait_for(what, pred, timeout, procs=()):
    """Polls pred() until it returns a true value (sswlab wait_until; an OSError, ValueError,
    KeyError or refusal from it counts as not yet); fails when a watched process exits or
    the time runs out, with the tail of the processes' logs."""
    def ready():
        for p in procs:
            if not p.alive():
                raise BenchError(f"{p.name} exited ({p.p.returncode}) while waiting for {what}; "
                                 f"log {p.log}:\n{p.tail()}")
        return pred()
    try:
        return wait_until(ready, timeout=timeout, interval=0.1, what=what,
                          ignore=(OSError, ValueError, KeyError, RouterError))
    except AssertionError as e:
        logs = "".join(f"\n  {p.name} log {p.log}:\n{p.tail()}" for p in procs)
        raise BenchError(f"{e}{logs}") from None


class Telemetry:
    """DPDK's telemetry socket (what dpdk-telemetry.py uses): /ethdev/stats of a port."""

    def __init__(self, prefix):
        self.path = f"{RUNTIME_DIR}/{prefix}/dpdk_telemetry.v2"
        self.s = None

    def query(self, cmd):
        if self.s is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(5)
            s.connect(self.path)
            s.recv(4096)  # the greeting
            self.s = s
        self.s.send(cmd.encode())
        return json.loads(self.s.recv(1 << 16))

    def stats(self, port):
        return self.query(f"/ethdev/stats,{port}")["/ethdev/stats"]

    def close(self):
        if self.s:
            self.s.close()
            self.s = None
