"""Per-run caps on memory, processes (and threads) and open files, so that a candidate cannot take the
machine -- and the workflow on it -- down.

Where this process may make a cgroup (v1 memory and pids controllers, or v2 with both delegated), the
kernel enforces the memory and process caps on the whole run, whatever its processes do: an
allocation past the cap is met by the OOM killer inside the run, a fork past it fails. Where it may
not (an unprivileged user without a delegated cgroup), a watchdog polls the run's process tree and
stops it once it passes a cap; a burst between two polls can overshoot, which the record says. Open
files are capped per process by ``RLIMIT_NOFILE`` everywhere.
"""

import os
import resource
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flcampaign.execution.process import tree_usage

MB = 1 << 20
DEFAULTS = {"max_memory_mb": 8192, "max_processes": 8192, "max_open_files": 4096}
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Caps:
    memory_mb: int
    processes: int  # processes and threads: the kernel counts both as tasks
    open_files: int

    @classmethod
    def of(cls, budget: dict) -> "Caps":
        values = {key: int(budget.get(key, default)) for key, default in DEFAULTS.items()}
        return cls(values["max_memory_mb"], values["max_processes"], values["max_open_files"])


def _own_cgroups() -> dict[str, str]:
    """Controller (or '' for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    found: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


def _mounts() -> dict[str, Path]:
    """Controller (or '' for v2) -> where its hierarchy is mounted."""
    found: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        fs_type, options = fields[fields.index("-") + 1], fields[-1]
        if fs_type == "cgroup2":
            found.setdefault("", Path(fields[4]))
        elif fs_type == "cgroup":
            for option in options.split(","):
                if option in ("memory", "pids"):
                    found[option] = Path(fields[4])
    return found


def _make(parent: Path, name: str) -> Path | None:
    try:
        (parent / name).mkdir()
    except OSError:
        return None
    return parent / name


def make_cgroups(name: str, caps: Caps) -> tuple[str, dict[str, Path]]:
    """('cgroup v1' | 'cgroup v2' | '', {'memory': dir, 'pids': dir}) with the caps written, or nothing."""
    try:
        own, mounts = _own_cgroups(), _mounts()
    except (OSError, ValueError, IndexError):
        return "", {}
    memory_limit, pids_limit = str(caps.memory_mb * MB), str(caps.processes)
    if "memory" in mounts and "pids" in mounts and "memory" in own and "pids" in own:
        groups = {c: _make(mounts[c] / own[c].lstrip("/"), name) for c in ("memory", "pids")}
        if all(groups.values()):
            made = {c: path for c, path in groups.items() if path is not None}
            try:
                (made["memory"] / "memory.limit_in_bytes").write_text(memory_limit)
                if (made["memory"] / "memory.memsw.limit_in_bytes").exists():  # swap counts too
                    (made["memory"] / "memory.memsw.limit_in_bytes").write_text(memory_limit)
                (made["pids"] / "pids.max").write_text(pids_limit)
                return "cgroup v1", made
            except OSError:
                pass
        remove_cgroups({c: p for c, p in groups.items() if p is not None})
    if "" in mounts and "" in own:
        group = _make(mounts[""] / own[""].lstrip("/"), name)
        if group is not None:
            try:
                (group / "memory.max").write_text(memory_limit)  # absent unless both are delegated here
                (group / "memory.swap.max").write_text("0")
                (group / "pids.max").write_text(pids_limit)
                return "cgroup v2", {"memory": group, "pids": group}
            except OSError:
                remove_cgroups({"": group})
    return "", {}


def remove_cgroups(groups: dict[str, Path]) -> None:
    """Remove the run's cgroups once its processes are gone (the kernel refuses while any is left)."""
    for path in set(groups.values()):
        for _ in range(50):
            try:
                path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


def _counter(path: Path, key: str) -> int:
    """A ``key value`` line of a cgroup events file, 0 when absent."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


class ResourceCaps:
    """The caps of one run: ``preexec`` for the child, an ``abort`` poll, and what was hit.

    Use as a context manager around the run; ``cgroups=False`` forces the watchdog.
    """

    def __init__(self, caps: Caps, cgroups: bool = True):
        self.caps = caps
        self.kind, self.groups = make_cgroups(f"flcampaign-{secrets.token_hex(6)}", caps) if cgroups else ("", {})
        self.hit: str | None = None
        self.peak_memory_mb = 0.0
        self.peak_tasks = 0

    def __enter__(self) -> "ResourceCaps":
        return self

    def __exit__(self, *exc: object) -> None:
        remove_cgroups(self.groups)

    @property
    def enforced_by(self) -> str:
        return self.kind or "watchdog"

    def preexec(self) -> None:
        """In the child before exec: the open-file cap, and into the run's cgroups."""
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.caps.open_files, self.caps.open_files))
        for path in dict.fromkeys(self.groups.values()):
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def _kernel_hit(self) -> str | None:
        if not self.groups:
            return None
        memory, pids = self.groups["memory"], self.groups["pids"]
        events = memory / ("memory.events" if self.kind == "cgroup v2" else "memory.oom_control")
        if _counter(events, "oom_kill") > 0:
            return "memory-cap"
        if _counter(pids / "pids.events", "max") > 0:
            return "process-cap"
        return None

    def __call__(self) -> bool:
        """True once the run has passed a cap (the kernel stopped an allocation or a fork, or the
        watchdog saw the tree above one)."""
        usage = tree_usage()
        self.peak_memory_mb = max(self.peak_memory_mb, usage.rss_bytes / MB)
        self.peak_tasks = max(self.peak_tasks, self._group_tasks() if self.groups else usage.tasks)
        self.hit = self._kernel_hit()
        if self.hit is None and not self.groups:
            if usage.rss_bytes > self.caps.memory_mb * MB:
                self.hit = "memory-cap"
            elif usage.tasks > self.caps.processes:
                self.hit = "process-cap"
        return self.hit is not None

    def settle(self) -> str | None:
        """What was hit, read once more after the run (an OOM kill just before it ended counts)."""
        self.hit = self.hit or self._kernel_hit()
        self.peak_memory_mb = max(self.peak_memory_mb, self._peak_memory_mb())
        return self.hit

    def reason(self) -> str:
        if self.hit == "memory-cap":
            return f"memory passed {self.caps.memory_mb} MB ({self.enforced_by}); the run was stopped"
        return f"processes and threads passed {self.caps.processes} ({self.enforced_by}); the run was stopped"

    def record(self) -> dict[str, Any]:
        return {
            "max_memory_mb": self.caps.memory_mb,
            "max_processes": self.caps.processes,
            "max_open_files": self.caps.open_files,
            "enforced_by": self.enforced_by,
            "peak_memory_mb": round(max(self.peak_memory_mb, self._peak_memory_mb()), 1),
            "peak_tasks": self.peak_tasks,
        }

    def _group_tasks(self) -> int:
        """Tasks in the run's pids cgroup now: the run's own, not every descendant of this process."""
        try:
            return int((self.groups["pids"] / "pids.current").read_text())
        except (OSError, ValueError):
            return 0

    def _peak_memory_mb(self) -> float:
        if not self.groups:
            return 0.0
        name = "memory.peak" if self.kind == "cgroup v2" else "memory.max_usage_in_bytes"
        try:
            return int((self.groups["memory"] / name).read_text()) / MB
        except (OSError, ValueError):
            return 0.0
