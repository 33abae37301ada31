"""The sandbox of candidate code: bubblewrap where it can start, the kernel's Landlock and seccomp where not.

In a bubblewrap box a process sees the system's read-only directories, the Python installation, its
code tree (read-only), the paths granted to it (its own workspace), a private /tmp and nothing else:
no campaign results, no split (training splits reach each client by descriptor, see ``site_data``),
no raw task data, no home, no network. Where bubblewrap cannot start (no user namespaces, as on many
clusters) but the kernel has Landlock, every process that runs candidate code confines itself to
the files and TCP ports of its policy (``landlock``, ``seccomp``), which needs no privileges. With
bubblewrap the kernel layer applies inside the box too. Where neither works (or
``execution.sandbox`` is ``off``) the run says it was unsandboxed.
"""

import glob
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flcampaign.execution import landlock, seccomp
from flcampaign.execution.containment import python_dirs

BOX_INIT = Path(__file__).with_name("box_init.py")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt")
MODES = ("auto", "required", "bubblewrap", "landlock", "off")
KINDS = ("bubblewrap", "landlock", "none")


class SandboxUnavailable(RuntimeError):
    """``execution.sandbox`` asks for a sandbox this machine cannot start."""


@dataclass(frozen=True)
class Sandbox:
    kind: str  # "bubblewrap", "landlock" or "none"
    detail: str  # bubblewrap's path, or the kernel layer's description, or why the run is unsandboxed
    kernel: bool = False  # every contained process confines itself with Landlock and seccomp

    def record(self) -> dict[str, object]:
        return {"kind": self.kind, "detail": self.detail, "kernel": self.kernel}

    @property
    def boxes(self) -> bool:
        """Commands run inside a bubblewrap box (own PID namespace, own mounts)."""
        return self.kind == "bubblewrap"

    def wrap(
        self,
        cmd: list[str],
        cwd: Path,
        readonly: list[Path],
        writable: list[Path],
        network: bool = False,
        hidden: Sequence[Path] = (),
        home: Path | None = None,
        report: bool = True,
    ) -> list[str]:
        """``cmd`` as run inside the sandbox (unchanged without one).

        Paths are mounted parents first, so a read-only folder may lie inside a writable one and the
        other way round; ``hidden`` folders are empty in the sandbox whatever lies below them.
        ``report`` ends the output with the box's count of processes that outlived the command.
        ``network`` keeps the caller's network namespace: a client worker's box shares the loopback of
        its run's sandbox, where its server listens; an agent keeps its model API.
        """
        if not self.boxes:
            return cmd
        # --unshare-pid: when the sandbox's first process dies, the kernel kills every process inside;
        # that first process is flcampaign's box init, which reaps the box (so its CPU time is counted)
        args = [self.detail, "--die-with-parent", "--unshare-pid", "--as-pid-1", "--unshare-ipc", "--unshare-uts"]
        if not network:
            args.append("--unshare-net")
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--setenv", "HOME", str(home or "/tmp")]
        for device in sorted(glob.glob("/dev/nvidia*")):
            args += ["--dev-bind", device, device]
        for system_dir in SYSTEM_DIRS:
            path = Path(system_dir)
            if path.is_symlink():
                args += ["--symlink", str(path.readlink()), system_dir]
            elif path.is_dir():
                args += ["--ro-bind", system_dir, system_dir]
        args += ["--ro-bind-try", "/sys", "/sys"]
        for python_path in _python_paths():
            args += ["--ro-bind", python_path, python_path]
        mounts = [(Path(p).resolve(), "--bind") for p in [*writable, *([home] if home else [])]]
        mounts += [(Path(p).resolve(), "--ro-bind") for p in readonly]
        for path, flag in sorted(mounts, key=lambda mount: len(mount[0].parts)):
            args += [flag, str(path), str(path)]
        for path in hidden:
            args += ["--tmpfs", str(Path(path).resolve())]
        init = [sys.executable, str(BOX_INIT), *([] if report else ["--quiet"])]  # stdlib only: no import path
        return [*args, "--chdir", str(Path(cwd).resolve()), *init, *cmd]


def _python_paths() -> list[str]:
    """The interpreter, its standard library, every package folder on its path (layered venvs too) and flcampaign,
    the bundled tasks cut out (``python_dirs``: a folder holding them is mounted entry by entry)."""
    paths = {sys.prefix, sys.base_prefix, *python_dirs()}
    kept = sorted(p for p in paths if Path(p).exists() and not any(p.startswith(d + "/") for d in SYSTEM_DIRS))
    return [p for p in kept if not any(p != other and p.startswith(other + "/") for other in kept)]


@cache
def _bubblewrap() -> tuple[str | None, str]:
    """Bubblewrap's path when it can really start a sandbox here, else why not."""
    path = shutil.which("bwrap")
    if path is None:
        return None, "bubblewrap (bwrap) is not installed"
    probe = Sandbox("bubblewrap", path).wrap(["true"], Path("/"), [], [])
    result = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        return None, f"bubblewrap cannot start a sandbox here: {result.stderr.strip()[:200]}"
    return path, path


UNSANDBOXED_ADVICE = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) so that candidate code runs without "
    "network, splits or other sites' data, or run on a kernel with Landlock (Linux 5.13 or newer), and set "
    "execution.sandbox: required to refuse to run without a sandbox"
)


def kernel_layer() -> tuple[bool, str]:
    """Whether every contained process can confine itself with Landlock and seccomp here, and how."""
    version = landlock.abi()
    if version < 1:
        return False, "the kernel has no Landlock (Linux 5.13 or newer, with landlock among its security modules)"
    if not seccomp.supported():
        return False, "no seccomp filter for this machine's architecture"
    network = "files and TCP ports" if version >= 4 else "files only (TCP needs Landlock ABI 4, Linux 6.7)"
    return True, f"Landlock ABI {version} ({network}) and a seccomp socket filter"


def choose(mode: str = "auto") -> Sandbox:
    """The sandbox for ``execution.sandbox``: auto (the strongest that works), required (auto, but never
    none), bubblewrap or landlock (that one only), or off."""
    if mode not in MODES:
        raise ValueError(f"execution.sandbox must be one of {MODES}, not {mode!r}")
    if mode == "off":
        return Sandbox("none", "disabled by execution.sandbox: off")
    kernel, kernel_detail = kernel_layer()
    path, detail = _bubblewrap() if mode != "landlock" else (None, "execution.sandbox: landlock")
    if path is not None:
        return Sandbox("bubblewrap", path, kernel)
    if kernel and mode != "bubblewrap":
        return Sandbox("landlock", f"{kernel_detail} ({detail})", True)
    if mode != "auto":
        raise SandboxUnavailable(f"execution.sandbox is {mode} but {detail}; {kernel_detail}")
    return Sandbox("none", f"{detail}; {kernel_detail}")
