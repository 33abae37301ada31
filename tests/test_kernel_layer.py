"""The kernel layer (Landlock and seccomp) that confines candidate code where bubblewrap cannot start.

Each check runs in a child process, since a confinement can never be lifted."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

from flcampaign.execution import landlock, seccomp
from flcampaign.execution.containment import Policy
from flcampaign.execution.sandbox import kernel_layer

AVAILABLE, WHY = kernel_layer()
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"no kernel layer here: {WHY}")

PROBE = """
import ctypes, json, os, socket, sys
sys.path.insert(0, {package!r})
from flcampaign.execution.containment import Policy, confine
confine(Policy.from_json({policy!r}))
found = {{}}

def attempt(name, action):
    try:
        action()
        found[name] = "allowed"
    except OSError as error:
        found[name] = f"refused ({{error.errno}})"

attempt("read own", lambda: open({own_file!r}).read())
attempt("write own", lambda: open({own_dir!r} + "/new.txt", "w").write("x"))
attempt("read outside", lambda: open({outside_file!r}).read())
attempt("write outside", lambda: open({outside_dir!r} + "/planted.txt", "w").write("x"))
attempt("read python", lambda: open(os.__file__).read(10))
attempt("udp socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
attempt("raw socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
attempt("connect allowed port", lambda: socket.create_connection(("127.0.0.1", {allowed_port}), timeout=2).close())
attempt("connect other port", lambda: socket.create_connection(("127.0.0.1", {other_port}), timeout=2).close())
attempt("bind other port", lambda: socket.socket().bind(("127.0.0.1", {free_port})))
attempt("signal the parent", lambda: os.kill(os.getppid(), 0))
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.open({outside_file!r}.encode(), 0)
found["native read outside"] = "allowed" if fd >= 0 else "refused"
found["ptrace"] = "allowed" if libc.ptrace(16, os.getppid(), 0, 0) == 0 else "refused"
print(json.dumps(found))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_confined_process_reaches_only_its_folders_and_ports(tmp_path):
    own, outside = tmp_path / "own", tmp_path / "outside"
    own.mkdir()
    outside.mkdir()
    (own / "mine.txt").write_text("mine")
    (outside / "secret.txt").write_text("secret")
    allowed, other = socket.create_server(("127.0.0.1", 0)), socket.create_server(("127.0.0.1", 0))
    allowed_port, other_port = allowed.getsockname()[1], other.getsockname()[1]
    python = (sys.prefix, sys.base_prefix)
    policy = Policy("client", (), (str(own),), python=python, kernel=True, connect_ports=(allowed_port,))
    package = str(REPO)
    script = PROBE.format(
        package=package,
        policy=policy.to_json(),
        own_file=str(own / "mine.txt"),
        own_dir=str(own),
        outside_file=str(outside / "secret.txt"),
        outside_dir=str(outside),
        allowed_port=allowed_port,
        other_port=other_port,
        free_port=free_port(),
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=60
        )
    finally:
        allowed.close()
        other.close()
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["read own"] == found["write own"] == found["read python"] == "allowed"
    assert found["connect allowed port"] == "allowed"
    refused = ["read outside", "write outside", "udp socket", "raw socket", "connect other port", "bind other port"]
    refused += ["native read outside", "ptrace"]
    if landlock.abi() >= 6:
        refused.append("signal the parent")
    assert [name for name in refused if not found[name].startswith("refused")] == [], found
    assert not (outside / "planted.txt").exists()


def test_the_server_may_open_datagram_sockets_and_the_ephemeral_ports():
    """NVFlare's server opens a UDP socket to find the host's address and listens on ephemeral ports."""
    policy = Policy("server", (), (), python=(sys.prefix,), kernel=True, ephemeral_tcp=True)
    ruleset = policy.ruleset()
    low, high = landlock.ephemeral_ports()[0], landlock.ephemeral_ports()[-1]
    assert {0, low, high} <= set(ruleset.bind_ports) and {low, high} <= set(ruleset.connect_ports)
    assert 443 not in ruleset.connect_ports and 22 not in ruleset.connect_ports
    code = (
        "import socket, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from flcampaign.execution.containment import Policy, confine\n"
        f"confine(Policy.from_json({policy.to_json()!r}))\n"
        "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print(s.getsockname()[1])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert low <= int(result.stdout.strip()) <= high


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHES))
def test_the_seccomp_program_refuses_foreign_abis_and_ends_in_allow_or_deny(machine):
    program = seccomp.program(machine)
    arch = seccomp.ARCHES[machine][0]
    assert program[0] == (seccomp.LD_W_ABS, 0, 0, seccomp.OFFSET_ARCH) and program[1][3] == arch
    assert program[-1] == (seccomp.RET_K, 0, 0, seccomp.RET_ALLOW)
    for index, (code, jump_true, jump_false, _) in enumerate(program):  # every jump lands inside the program
        if code in (seccomp.JEQ_K, seccomp.JGE_K):
            assert index + 1 + max(jump_true, jump_false) < len(program)
    assert len(seccomp.packed(machine)) == 8 * len(program)


def test_a_process_that_cannot_be_confined_stops_instead_of_running_unconfined(tmp_path):
    """A write folder that cannot be made: the kernel layer fails, and the process ends with a violation."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    policy = Policy("client", (), (str(blocker / "below"),), python=(sys.prefix,), kernel=True)
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from flcampaign.execution.containment import Policy, install\n"
        f"install(Policy.from_json({policy.to_json()!r}))\n"
        "print('ran unconfined')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ)
    assert "ran unconfined" not in result.stdout
    assert '"rule": "sandbox"' in result.stderr
