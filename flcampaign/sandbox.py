"""Bubblewrap sandbox for candidate code: no network, read-only code, only the files a step needs.

Inside, a process sees the system's read-only directories, the Python installation, its code tree
(read-only), the paths granted to it (its own workspace), a private /tmp and nothing else: no
campaign results, no split (training splits reach each client by descriptor, see ``site_data``),
no raw task data, no home. Where bubblewrap is missing (or ``execution.sandbox`` is ``off``) the run
says it was unsandboxed.
"""

import glob
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flcampaign.containment import PACKAGE_DIR, python_dirs

BOX_INIT = PACKAGE_DIR / "box_init.py"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt")
MODES = ("auto", "required", "off")


class SandboxUnavailable(RuntimeError):
    """``execution.sandbox: required`` on a machine where bubblewrap does not work."""


@dataclass(frozen=True)
class Sandbox:
    kind: str  # "bubblewrap" or "none"
    detail: str  # bubblewrap's path, or why the run is unsandboxed

    def record(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}

    def wrap(
        self,
        cmd: list[str],
        cwd: Path,
        readonly: list[Path],
        writable: list[Path],
        network: bool = False,
        hidden: list[Path] = (),
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
        if self.kind == "none":
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
        for path in _python_paths():
            args += ["--ro-bind", path, path]
        mounts = [(Path(p).resolve(), "--bind") for p in [*writable, *([home] if home else [])]]
        mounts += [(Path(p).resolve(), "--ro-bind") for p in readonly]
        for path, flag in sorted(mounts, key=lambda mount: len(mount[0].parts)):
            args += [flag, str(path), str(path)]
        for path in hidden:
            args += ["--tmpfs", str(Path(path).resolve())]
        init = [sys.executable, str(BOX_INIT), *([] if report else ["--quiet"])]  # stdlib only: no import path
        return [*args, "--chdir", str(Path(cwd).resolve()), *init, *cmd]


def _python_paths() -> list[str]:
    """The interpreter, its standard library, every package folder on its path (layered venvs too) and flcampaign."""
    paths = {sys.prefix, sys.base_prefix, *python_dirs()}
    kept = sorted(p for p in paths if Path(p).is_dir() and not any(p.startswith(d + "/") for d in SYSTEM_DIRS))
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
    "network, splits or other sites' data, or set execution.sandbox: required to refuse to run without it"
)


def unsandboxed_notice(rows: list[dict]) -> str:
    """One sentence for the status and the report when any run went without a sandbox, else ''."""
    ran = [row for row in rows if row.get("sandbox")]
    bare = [row["candidate"] for row in ran if row["sandbox"] == "none"]
    if not bare:
        return ""
    return (
        f"{len(bare)} of {len(ran)} runs ran without a sandbox (only the in-process containment held them): "
        + UNSANDBOXED_ADVICE
        + "."
    )


def choose(mode: str = "auto") -> Sandbox:
    """The sandbox for ``execution.sandbox``: auto (bubblewrap when it works), required, or off."""
    if mode not in MODES:
        raise ValueError(f"execution.sandbox must be one of {MODES}, not {mode!r}")
    if mode == "off":
        return Sandbox("none", "disabled by execution.sandbox: off")
    path, detail = _bubblewrap()
    if path is None:
        if mode == "required":
            raise SandboxUnavailable(f"execution.sandbox is required but {detail}")
        return Sandbox("none", detail)
    return Sandbox("bubblewrap", path)
