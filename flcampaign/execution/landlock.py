"""Landlock: the kernel confines a process to the files and TCP ports its policy names, no privileges needed.

Where bubblewrap cannot start (no user namespaces, as on many clusters), the audit hook of
``containment`` still sees only Python's own operations; native code (``ctypes``, a C extension, a
reader written in C) goes past it. Landlock (Linux 5.13+) closes that door from inside the process:
once restricted, the process and everything it starts can open only what the ruleset allows,
connect or bind only the TCP ports it names (ABI 4+), and signal or reach abstract Unix sockets
only inside its own domain (ABI 6+). Restrictions stack and can never be lifted.

Talks to the kernel directly through its three system calls (same numbers on every architecture).
"""

import ctypes
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE = 1 << 13, 1 << 14  # ABI 2, ABI 3
BIND_TCP, CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE  # the rights that apply to a file, not a folder
READ = EXECUTE | READ_FILE | READ_DIR
WRITE = (
    WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO | MAKE_SYM | REFER | TRUNCATE
)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


class LandlockError(OSError):
    """The kernel refused to build or apply the ruleset."""


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(number: int, *args: object) -> int:
    result = _libc.syscall(number, *args)
    if result < 0:
        errno = ctypes.get_errno()
        raise LandlockError(errno, f"landlock system call {number}: {os.strerror(errno)}")
    return result


@cache
def abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is absent or disabled."""
    try:
        return _syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    except (LandlockError, AttributeError):
        return 0


def _fs_rights(version: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute to make_sym
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    return rights


@dataclass(frozen=True)
class Ruleset:
    """What a confined process may reach: folders (or files) to read, folders to write, TCP ports."""

    read: tuple[str, ...]
    write: tuple[str, ...]
    bind_ports: tuple[int, ...] = ()  # TCP ports it may bind (0: an ephemeral port chosen by the kernel)
    connect_ports: tuple[int, ...] = ()  # TCP ports it may connect to
    listed: tuple[str, ...] = ()  # folders whose entries it may list (their files are read only where granted)

    def apply(self) -> dict[str, object]:
        """Restrict this process (and all it starts) for good; what was enforced, for the run's record."""
        version = abi()
        if version < 1:
            raise LandlockError(0, "Landlock is not available in this kernel")
        handled_fs = _fs_rights(version)
        attr = _RulesetAttr(handled_fs, BIND_TCP | CONNECT_TCP if version >= 4 else 0, 0)
        if version >= 6:
            attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = ctypes.sizeof(_RulesetAttr) if version >= 6 else (16 if version >= 4 else 8)
        fd = _syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
        try:
            for path in _existing(self.read):
                self._allow_path(fd, path, READ & handled_fs)
            for path in _existing(self.listed):
                self._allow_path(fd, path, READ_DIR & handled_fs)
            for path in _existing(self.write):
                self._allow_path(fd, path, (READ | WRITE) & handled_fs)
            if version >= 4:
                ports: dict[int, int] = {}
                for port in self.bind_ports:
                    ports[port] = ports.get(port, 0) | BIND_TCP
                for port in self.connect_ports:
                    ports[port] = ports.get(port, 0) | CONNECT_TCP
                for port, rights in sorted(ports.items()):
                    rule = _NetPortAttr(rights, port)
                    _syscall(SYS_ADD_RULE, fd, RULE_NET_PORT, ctypes.byref(rule), ctypes.c_uint32(0))
            if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                raise LandlockError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
            _syscall(SYS_RESTRICT_SELF, fd, ctypes.c_uint32(0))
        finally:
            os.close(fd)
        return {
            "abi": version,
            "files": True,
            "tcp": version >= 4,
            "scoped": version >= 6,
        }

    @staticmethod
    def _allow_path(ruleset_fd: int, path: str, rights: int) -> None:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            if not os.path.isdir(path):
                rights &= FILE_RIGHTS
            rule = _PathBeneathAttr(rights, fd)
            _syscall(SYS_ADD_RULE, ruleset_fd, RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0))
        finally:
            os.close(fd)


def _existing(paths: Iterable[str]) -> list[str]:
    """The paths that exist, each once (a rule needs an open descriptor of its path)."""
    return [path for path in dict.fromkeys(paths) if os.path.lexists(path)]


def ephemeral_ports() -> tuple[int, ...]:
    """The kernel's range of ports for outgoing and ``bind(0)`` sockets (where NVFlare's listeners live)."""
    try:
        low, high = (int(value) for value in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return tuple(range(low, high + 1))
