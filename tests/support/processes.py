"""Every process a test starts, in one place: each runs in its own session (so its own
process group) and is stopped together with everything it started.

Why: killing only the process a test started leaves its children running — a
``harness up`` killed with SIGKILL left its studio listening on 8501 for the next run.
``spawn``/``spawn_async`` start a process as the leader of a new group; ``stop`` asks the
leader to stop, then SIGKILLs whatever is left in its group and says what that was, so a
test can assert that a parent stops its own children. ``leaks()`` (used by the session-end
check in ``tests/conftest.py``) lists every process still alive in a group started here,
plus any other descendant of the test process, with the ports it listens on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

_groups: set[int] = set()  # process-group ids of everything spawned by this test process
_session_end: list[Callable[[], None]] = []  # session-scoped services to stop first


@dataclass
class Proc:
    """One live process seen in ``/proc``."""

    pid: int
    ppid: int
    pgid: int
    cmdline: str
    ports: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        listening = f" listening on {', '.join(map(str, self.ports))}" if self.ports else ""
        return f"pid {self.pid} (group {self.pgid}){listening}: {self.cmdline[:200]}"


def spawn(cmd: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen`` as the leader of a new session and process group."""
    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    _groups.add(proc.pid)
    return proc


async def spawn_async(*cmd: str, **kwargs) -> asyncio.subprocess.Process:
    """``asyncio.create_subprocess_exec`` as the leader of a new process group."""
    proc = await asyncio.create_subprocess_exec(*cmd, start_new_session=True, **kwargs)
    _groups.add(proc.pid)
    return proc


def stop(proc: subprocess.Popen, *, sig: int = signal.SIGTERM,
         timeout: float = 30.0) -> list[Proc]:
    """Send ``sig`` to the leader and wait for it (SIGKILL after ``timeout``), then SIGKILL
    the rest of its group. Returns what was still alive in the group after the leader
    exited (empty when the leader stopped its own children). What the leader wrote to its
    pipes is read meanwhile (so it never blocks on a full pipe) and kept as
    ``proc.output`` (stdout, or both when stderr went to stdout) and ``proc.errors``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
    piped = proc.stdout is not None or proc.stderr is not None
    try:
        out, errs = proc.communicate(timeout=timeout) if piped else (None, proc.wait(timeout))
    except subprocess.TimeoutExpired:  # the leader hangs, or a child holds its pipe open
        left = kill_group(proc.pid)
        out, errs = proc.communicate() if piped else (None, proc.wait())
        proc.output, proc.errors = out, (errs if piped else None)
        return [p for p in left if p.pid != proc.pid]
    except ValueError:  # the caller already read the pipes to the end
        out, errs = None, proc.wait()
    proc.output, proc.errors = out, (errs if piped else None)
    return kill_group(proc.pid)


def run(cmd: list[str], *, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run`` (``capture_output``/``text`` as given) in its own process group;
    on ``timeout`` the whole group is killed before ``TimeoutExpired`` is raised."""
    if kwargs.pop("capture_output", False):
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
    proc = spawn(cmd, **kwargs)
    try:
        out, errs = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.communicate()
        raise
    finally:
        kill_group(proc.pid)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, errs)


def kill(proc: subprocess.Popen) -> list[Proc]:
    """SIGKILL the leader (as a crash would), then the rest of its group."""
    return stop(proc, sig=signal.SIGKILL)


async def stop_async(proc: asyncio.subprocess.Process, *, timeout: float = 30.0) -> None:
    """``stop`` for an asyncio subprocess."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    kill_group(proc.pid)


def members(pgid: int) -> list[Proc]:
    """The live processes of the group ``pgid``."""
    return [p for p in _processes() if p.pgid == pgid]


async def run_async(*cmd: str, timeout: float, **kwargs) -> tuple[int, str]:
    """Run ``cmd`` to the end in its own group, stdout and stderr together; the group is
    killed if it outlives ``timeout`` (a hang guard). Returns (exit code, output)."""
    proc = await spawn_async(*cmd, stdout=asyncio.subprocess.PIPE,
                             stderr=asyncio.subprocess.STDOUT, **kwargs)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        await stop_async(proc)
    return proc.returncode, out.decode()


def kill_group(pgid: int) -> list[Proc]:
    """SIGKILL every live member of the group ``pgid``; returns who they were."""
    left = members(pgid)
    if left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    _groups.discard(pgid)
    return left


@contextlib.contextmanager
def running(cmd: list[str], **kwargs) -> Iterator[subprocess.Popen]:
    """``spawn`` for the length of a ``with`` block; stopped (group included) on exit."""
    proc = spawn(cmd, **kwargs)
    try:
        yield proc
    finally:
        stop(proc)


def on_session_end(callback: Callable[[], None]) -> None:
    """Register how to stop a service shared by the whole test session; it runs before
    the leak check (and again, harmlessly, at interpreter exit if registered there)."""
    _session_end.append(callback)


def stop_session_services() -> None:
    while _session_end:
        with contextlib.suppress(Exception):
            _session_end.pop()()


def leaks() -> list[Proc]:
    """Processes a test left running: live members of groups spawned here, and live
    descendants of this process (a process started without ``spawn``)."""
    procs = _processes()
    me = os.getpid()
    children: dict[int, list[Proc]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    found: dict[int, Proc] = {p.pid: p for p in procs if p.pgid in _groups and p.pid != me}
    todo = [me]
    while todo:
        for child in children.get(todo.pop(), []):
            found.setdefault(child.pid, child)
            todo.append(child.pid)
    ports = _listening_ports(found)
    for p in found.values():
        p.ports = sorted(ports.get(p.pid, ()))
    return sorted(found.values(), key=lambda p: p.pid)


def kill_all(procs: list[Proc]) -> None:
    for p in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p.pid, signal.SIGKILL)


def _processes() -> list[Proc]:
    """Every live (non-zombie) process on the machine, from ``/proc``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace").strip()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] in ("Z", "X"):
            continue
        out.append(Proc(pid=int(entry.name), ppid=int(fields[1]), pgid=int(fields[2]),
                        cmdline=cmdline))
    return out


def _listening_ports(pids) -> dict[int, set[int]]:
    """pid → TCP ports it listens on (IPv4 and IPv6), from ``/proc/net`` and fds."""
    return {pid: {port for _, port in sockets}
            for pid, sockets in listening_sockets(pids).items()}


def _address(hex_address: str) -> str:
    """``/proc/net/tcp*``'s local address (little-endian 32-bit words) as text."""
    raw = bytes.fromhex(hex_address)
    return str(ipaddress.ip_address(b"".join(raw[i:i + 4][::-1]
                                             for i in range(0, len(raw), 4))))


def listening_sockets(pids) -> dict[int, set[tuple[str, int]]]:
    """pid → (address, port) of every TCP socket it listens on (IPv4 and IPv6)."""
    inode_socket: dict[str, tuple[str, int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[3] == "0A":  # TCP_LISTEN
                    address, port = cols[1].rsplit(":", 1)
                    inode_socket[cols[9]] = (_address(address), int(port, 16))
    found: dict[int, set[tuple[str, int]]] = {}
    for pid in pids:
        entry = Path("/proc") / str(pid)
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        sock = inode_socket.get(target[8:-1])
                        if sock is not None:
                            found.setdefault(pid, set()).add(sock)
    return found
