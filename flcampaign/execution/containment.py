"""In-process containment of candidate code: an audit hook that allows only the files a step needs.

Every process that runs candidate code (job export, the simulator's server, each client worker,
the prediction step) starts under a policy installed before any candidate module is imported:
it may read the Python installation, the system and the folders its step needs, write only its
own folders, and start only the processes its role requires. Anything else ends the process at
once with a violation line on its standard error (``FLCAMPAIGN-VIOLATION {...}``) that the runner
turns into a named rule; a candidate cannot catch it.

This works with or without the bubblewrap sandbox: sandboxed, the files are not even there;
unsandboxed, this hook is the line that holds at the Python level. Native code (``ctypes``,
readers written in C such as ``numpy.fromfile``) bypasses audit hooks; the allowlist refuses those
by name, and the kernel holds against them: the bubblewrap box, or Landlock and seccomp, which
``confine`` applies from the same policy where the policy asks for it.
"""

import glob
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypedDict

from flcampaign.execution import landlock, seccomp

VIOLATION_MARK = "FLCAMPAIGN-VIOLATION"
VIOLATION_EXIT = 86
SYSTEM_READ = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/sys", "/dev")
DEVICE_WRITE = ("/dev/null", "/dev/nvidia", "/dev/dri")
GPU_DEVICES = ("/dev/nvidia*", "/dev/dri")
SHARED_MEMORY = ("/dev/shm", "/dev/mqueue")  # a channel between processes that no folder of the run covers
PROC_OTHER_ALLOWED = {"stat", "status", "cmdline", "comm", "statm"}  # what psutil reads of other processes
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
SPAWN_EVENTS = ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "pty.spawn")
FORK_EVENTS = ("os.fork", "os.forkpty")


@dataclass(frozen=True)
class Policy:
    """What one process of a run may touch. Paths are absolute and resolved."""

    role: str  # export, server, client, predict
    read: tuple[str, ...]  # folders (or files) it may read below, besides Python and the system
    write: tuple[str, ...]  # folders it may create and change files below
    named: tuple[tuple[str, str], ...] = ()  # (path, rule): reading below path breaks that rule
    spawn: tuple[str, ...] = ()  # executables it may start
    fork: bool = False  # multiprocessing's fork (the simulator's server needs it)
    site: str = ""  # a client's own site
    python: tuple[str, ...] = field(default_factory=tuple)  # the interpreter's folders
    listed: tuple[str, ...] = field(default_factory=tuple)  # folders whose entries it may list, not read
    kernel: bool = False  # also confine the process with Landlock and seccomp (native code included)
    bind_ports: tuple[int, ...] = ()  # TCP ports it may listen on, under the kernel layer
    connect_ports: tuple[int, ...] = ()  # TCP ports it may connect to, under the kernel layer
    ephemeral_tcp: bool = False  # any port of the kernel's ephemeral range (a server's listeners)
    short_waits: bool = False  # NVFlare's fixed polls and pauses capped (flcampaign.execution.nvflare_waits)

    def ruleset(self) -> landlock.Ruleset:
        """The same policy as the kernel enforces it: folders to read and write, TCP ports."""
        ports = landlock.ephemeral_ports() if self.ephemeral_tcp else ()
        read = (*SYSTEM_READ, "/proc", *self.python, *self.read)
        return landlock.Ruleset(
            read=read,
            listed=self.listed,
            write=(*self.write, "/dev/null", *(path for pattern in GPU_DEVICES for path in glob.glob(pattern))),
            bind_ports=(*self.bind_ports, *ports, *((0,) if self.ephemeral_tcp else ())),
            connect_ports=(*self.connect_ports, *ports),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Policy":
        data = json.loads(text)
        data["named"] = tuple(tuple(pair) for pair in data.get("named", ()))
        fields: dict[str, Any] = {
            key: tuple(value) if isinstance(value, list) else value for key, value in data.items()
        }
        return cls(**fields)


PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the flcampaign package
BUNDLED_TASKS = PACKAGE_DIR / "tasks"  # the tasks shipped with the package, raw data included


def importable_from(folder: Path) -> str:
    """A folder that makes this package (and nothing else) importable: the ``PYTHONPATH`` of run processes.

    Processes of a run start afresh (``python -m flcampaign.execution.contained``), where this package may have
    been importable only through a path its parent added (as Snakemake adds the workflow's folder).
    """
    link = Path(folder) / PACKAGE_DIR.name
    Path(folder).mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(PACKAGE_DIR, target_is_directory=True)
    return str(Path(folder))


class PythonGrants(TypedDict):
    python: tuple[str, ...]
    listed: tuple[str, ...]


def python_grants() -> PythonGrants:
    """The Policy fields for Python: ``python``, the interpreter's installation and every package folder on its
    path (what imports read), without the bundled tasks this package ships (their raw data lie inside the
    package, and no contained process reads them); ``listed``, the folders opened up to cut those out, whose
    entries imports still list."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent.parent)}
    paths |= {p for p in sys.path if p and p.rstrip("/").endswith(("site-packages", "dist-packages"))}
    paths.add(str(PACKAGE_DIR))  # this package, wherever it is installed from
    kept, opened = without((Path(os.path.realpath(p)) for p in paths), BUNDLED_TASKS)
    return PythonGrants(python=kept, listed=opened)


def python_dirs() -> tuple[str, ...]:
    """What imports read (``python_grants``'s ``python``): the folders a sandbox mounts for Python."""
    return python_grants()["python"]


def without(roots: Iterable[Path], hidden: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``roots`` with the folder ``hidden`` cut out, and the folders opened to do it: a root that holds it is
    replaced by its entries but the one leading to it, recursively. Read grants (Landlock rules, bind mounts,
    the audit hook) cover whole trees, so a folder inside a granted one can only be kept out this way."""
    kept: set[str] = set()
    opened: set[str] = set()
    for root in roots:
        if root == hidden or root.is_relative_to(hidden):
            continue
        if hidden.is_relative_to(root) and root.is_dir():
            inner_kept, inner_opened = without(root.iterdir(), hidden)
            kept.update(inner_kept)
            opened.update((str(root), *inner_opened))
        else:
            kept.add(str(root))
    return tuple(sorted(kept)), tuple(sorted(opened))


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _proc_allowed(path: str) -> bool:
    """Own process entries and a few status files of others; never another process's fds, memory or root."""
    parts = path.split("/")
    if len(parts) < 3 or not parts[2].isdigit() or int(parts[2]) == os.getpid():
        return True
    return len(parts) == 4 and parts[3] in PROC_OTHER_ALLOWED


_installed: list[Policy] = []


def current_policy() -> Policy | None:
    """The policy this process runs under, or None outside a contained step."""
    return _installed[0] if _installed else None


def stop(rule: str, detail: str) -> NoReturn:
    """End the process with a line the runner reads (the rule and what was attempted); no handler can catch it."""
    policy = current_policy()
    role, site = (policy.role, policy.site) if policy else ("", "")
    line = json.dumps({"rule": rule, "role": role, "site": site, "detail": detail[:500]})
    try:
        os.write(2, f"\n{VIOLATION_MARK} {line}\n".encode())
    finally:
        os._exit(VIOLATION_EXIT)


def check_open(policy: Policy, path: object, mode: object, flags: object) -> tuple[str, str] | None:
    """(rule, detail) when opening ``path`` breaks the policy, else None."""
    if isinstance(path, int):
        return None  # an already open descriptor: opening it was checked
    if not isinstance(path, str | bytes | os.PathLike):  # what os.fspath refuses with TypeError
        return None
    try:
        raw = os.fsdecode(os.fspath(path))
    except (TypeError, ValueError):
        return None
    if "/" not in raw and raw not in ("", ".", ".."):
        # one name and no folder: relative to the working folder or to a directory descriptor (``dir_fd``,
        # as shutil.rmtree opens entries), whose own opening was checked; links out of the run are refused
        return None
    try:
        resolved = os.path.realpath(raw)
    except OSError:  # relative to a working folder that no longer exists
        return "file-access", f"opens {raw} relative to a deleted folder"
    return _check_path(policy, resolved, mode, flags)


def _check_path(policy: Policy, resolved: str, mode: object, flags: object) -> tuple[str, str] | None:
    writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and mode is None and bool(flags & WRITE_FLAGS)
    )
    if _under(resolved, SHARED_MEMORY):
        return "file-access", f"opens {resolved}: shared memory that other processes can open too"
    if writes:
        if _under(resolved, policy.write) or _under(resolved, DEVICE_WRITE):
            return None
        return "file-access", f"writes {resolved}, outside the run's own folders"
    for root, rule in policy.named:
        if _under(resolved, (root,)):
            return rule, f"reads {resolved}"
    if resolved.startswith("/proc/"):
        return None if _proc_allowed(resolved) else ("file-access", f"reads {resolved} of another process")
    if _under(resolved, policy.read + policy.write + policy.python + SYSTEM_READ) or resolved in ("/proc", "/"):
        return None
    if not os.path.lexists(resolved):
        return None  # nothing there to read (import machinery probes such paths); the open fails by itself
    return "file-access", f"reads {resolved}, outside what its step may read"


def check_chdir(policy: Policy, path: object) -> tuple[str, str] | None:
    """A process may change into folders it may read (names relative to its folder are checked against it)."""
    if isinstance(path, int):
        return None
    if not isinstance(path, str | bytes | os.PathLike):  # what os.fspath refuses with TypeError
        return "file-access", f"changes into {path!r}"
    try:
        resolved = os.path.realpath(os.fsdecode(os.fspath(path)))
    except (OSError, TypeError, ValueError):
        return "file-access", f"changes into {path!r}"
    if any(_under(resolved, (root,)) for root, _ in policy.named):
        return next(rule for root, rule in policy.named if _under(resolved, (root,))), f"changes into {resolved}"
    if _under(resolved, policy.read + policy.write):
        return None
    return "file-access", f"changes into {resolved}, outside what its step may read"


def check_link(policy: Policy, event: str, args: tuple) -> tuple[str, str] | None:
    """A symbolic or hard link may point only into the run's own folders (else it is a way out)."""
    source = os.fsdecode(args[0]) if isinstance(args[0], str | bytes) else ""
    if event == "os.symlink" and not os.path.isabs(source):
        return ("file-access", f"symbolic link to the relative path {source}") if ".." in source else None
    resolved = os.path.realpath(source)
    if _under(resolved, policy.write):
        return None
    return "file-access", f"{event} to {resolved}, outside the run's own folders"


def check_spawn(policy: Policy, event: str, args: tuple) -> tuple[str, str] | None:
    """(rule, detail) when starting a process breaks the policy, else None."""
    if event in FORK_EVENTS:
        return None if policy.fork else ("process", f"{event}: the {policy.role} may not start processes")
    executable = args[0] if args else None
    if event == "subprocess.Popen" and executable is None and args[1]:
        executable = args[1][0]
    target = os.path.realpath(os.fsdecode(executable)) if isinstance(executable, str | bytes) else str(executable)
    if event in ("os.exec", "os.posix_spawn", "subprocess.Popen") and target in policy.spawn:
        return None
    return "process", f"{event} {target}: the {policy.role} may not start it"


def confine(policy: Policy) -> None:
    """The kernel layer: Landlock and seccomp, for what the audit hook cannot see (native code).

    A process that was meant to be confined and cannot be ends with a violation instead of running
    candidate code unconfined."""
    try:
        for folder in policy.write:  # a rule needs its folder: the process may make them anyway
            os.makedirs(folder, exist_ok=True)
        policy.ruleset().apply()
        seccomp.install(datagrams=policy.ephemeral_tcp)
    except OSError as error:
        stop("sandbox", f"the kernel layer could not be applied: {error}")


def install(policy: Policy) -> None:
    """Add the audit hook (and the kernel layer where the policy asks); neither can be removed."""
    if _installed:
        raise RuntimeError("a containment policy is already installed in this process")
    _installed.append(policy)
    if policy.kernel:
        confine(policy)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            found = check_open(policy, *args[:3])
        elif event in SPAWN_EVENTS or event in FORK_EVENTS:
            found = check_spawn(policy, event, args)
        elif event in ("os.symlink", "os.link"):
            found = check_link(policy, event, args)
        elif event == "os.chdir":
            found = check_chdir(policy, args[0])
        else:
            return
        if found is not None:
            stop(*found)

    sys.addaudithook(hook)


class ViolationWatch:
    """Reads a log as it grows and tells when a process of the run reported a violation (the run is over)."""

    def __init__(self, log_path: Path):
        self.log_path, self.offset, self.seen = Path(log_path), 0, False

    def __call__(self) -> bool:
        if not self.seen and self.log_path.is_file():
            start = max(0, self.offset - len(VIOLATION_MARK))  # a mark may straddle two reads
            with open(self.log_path, "rb") as handle:
                handle.seek(start)
                chunk = handle.read()
            self.offset = start + len(chunk)
            self.seen = VIOLATION_MARK.encode() in chunk
        return self.seen


def violations_in(text: str) -> list[dict]:
    """The violation records in a log, in order (a candidate can add lines, never remove them)."""
    found = []
    for line in text.splitlines():
        if line.startswith(VIOLATION_MARK + " "):
            try:
                record = json.loads(line[len(VIOLATION_MARK) + 1 :])
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("rule"), str):
                found.append(record)
    return found
