"""A seccomp filter for candidate code: the sockets and system calls Landlock does not cover.

Landlock confines files and TCP ports; it says nothing of UDP or raw sockets (a DNS query is a way
out), of io_uring (which opens sockets past every socket filter) or of reading another process's
memory. This filter, installed with the policy, refuses those with ``EPERM``: an internet socket
must be a stream socket (its ports are Landlock's), other families are limited to Unix and netlink,
and ``ptrace``, ``process_vm_*`` and ``io_uring_*`` are refused. Foreign system-call ABIs (32-bit
``int 0x80`` on x86-64, x32) are refused outright, since their numbers would slip past the checks.
No privileges are needed once ``no_new_privs`` is set.
"""

import ctypes
import errno
import platform
import struct

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
LD_W_ABS, JEQ_K, JGE_K, AND_K, RET_K = 0x20, 0x15, 0x35, 0x54, 0x06
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
SOCK_STREAM, SOCK_DGRAM, SOCK_TYPE_MASK = 1, 2, 0xF
X32_BIT = 0x40000000

# machine -> (audit arch, socket, [refused system calls])
ARCHES = {
    "x86_64": (0xC000003E, 41, [101, 310, 311, 425, 426, 427]),  # ptrace, process_vm_readv/writev, io_uring_*
    "aarch64": (0xC00000B7, 198, [117, 270, 271, 425, 426, 427]),
}
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0, OFFSET_ARG1 = 0, 4, 16, 24


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def supported() -> bool:
    return platform.machine() in ARCHES


def program(machine: str | None = None, datagrams: bool = False) -> list[tuple[int, int, int, int]]:
    """The classic BPF program as (code, jump-if-true, jump-if-false, constant) instructions.

    ``datagrams`` lets internet sockets be datagram sockets too (NVFlare's server opens one to find
    the host's address; Landlock does not cover UDP)."""
    arch, socket_nr, refused = ARCHES[machine or platform.machine()]
    deny = RET_ERRNO | errno.EPERM
    head = [(LD_W_ABS, 0, 0, OFFSET_ARCH), (JEQ_K, 1, 0, arch), (RET_K, 0, 0, deny), (LD_W_ABS, 0, 0, OFFSET_NR)]
    if machine == "x86_64" or (machine is None and platform.machine() == "x86_64"):
        head += [(JGE_K, 0, 1, X32_BIT), (RET_K, 0, 0, deny)]
    body = []
    for number in refused:  # each: equal -> deny, else go on
        body += [(JEQ_K, 0, 1, number), (RET_K, 0, 0, deny)]
    # socket(domain, type, protocol): unix and netlink pass; inet and inet6 only as stream (or datagram) sockets
    body += [
        (JEQ_K, 1, 0, socket_nr),
        (RET_K, 0, 0, RET_ALLOW),
        (LD_W_ABS, 0, 0, OFFSET_ARG0),
        (JEQ_K, 8, 0, AF_UNIX),
        (JEQ_K, 7, 0, AF_NETLINK),
        (JEQ_K, 1, 0, AF_INET),
        (JEQ_K, 0, 4, AF_INET6),
        (LD_W_ABS, 0, 0, OFFSET_ARG1),
        (AND_K, 0, 0, SOCK_TYPE_MASK),
        (JEQ_K, 2, 0, SOCK_STREAM),
        (JEQ_K, 1, 0, SOCK_DGRAM if datagrams else SOCK_STREAM),
        (RET_K, 0, 0, deny),
        (RET_K, 0, 0, RET_ALLOW),
    ]
    return head + body


def install(datagrams: bool = False) -> None:
    """Load the filter into this process (and everything it starts); it cannot be removed."""
    instructions = program(datagrams=datagrams)
    filters = (_SockFilter * len(instructions))(*(_SockFilter(*item) for item in instructions))
    prog = _SockFprog(len(instructions), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def packed(machine: str) -> bytes:
    """The program as the kernel reads it (8 bytes an instruction), for tests that inspect it."""
    return b"".join(struct.pack("=HBBI", *item) for item in program(machine))
