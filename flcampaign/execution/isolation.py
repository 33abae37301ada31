"""One run's processes, each confined to what its role needs: the export, the server, one box per client.

The runner lays out a run (``RunLayout``) and writes it, with a launcher script, into a folder
that candidate code can read but not change. NVFlare's simulator starts its client workers with
``sys.executable``; the server runs with that set to the launcher, so every worker starts as
``client_main``: trusted code that takes the site name NVFlare gave it, fetches that site's
training split from the runner (``site_data``), and only then starts the worker under the client
policy -- inside a sandbox of its own (own PID namespace, own workspace, nothing of the other
sites) where bubblewrap runs, under the audit hook alone where it does not.
"""

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

from flcampaign.execution import site_data
from flcampaign.execution.containment import Policy, check_open, importable_from, python_grants, stop
from flcampaign.execution.process import become_subreaper, children_of, reap_orphans
from flcampaign.execution.sandbox import Sandbox

WORKER_MODULE = "nvflare.private.fed.app.simulator.simulator_worker"
LAYOUT_FILE = "layout.json"
LAUNCHER_FILE = "python"
POLICY_ARG = "--policy"


@dataclass(frozen=True)
class RunLayout:
    """Where one run's parts live (absolute paths) and how it is contained."""

    python: str  # the real interpreter
    code: str  # the run's read-only copy of the candidate tree
    job_root: str  # where job.py exports the NVFlare job
    workspace: str  # the simulator's workspace (server/, site-k/)
    launch: str  # this layout, the launcher and the audit settings: read-only to candidate code
    tmp: str  # private temporary folders, one per process role
    train_dir: str  # the training splits: no process of the run opens them by name
    split_root: str  # every split of the task (train, search-validation, held-out)
    sites: tuple[str, ...]
    data_socket: str  # the runner's site-data socket
    sandbox_kind: str  # bubblewrap, landlock or none
    sandbox_detail: str
    sandbox_kernel: bool  # every process also confines itself with Landlock and seccomp
    short_waits: bool  # the server and the clients cap NVFlare's fixed waits (nvflare_waits)

    @property
    def launcher(self) -> str:
        return str(Path(self.launch) / LAUNCHER_FILE)

    @property
    def pythonpath(self) -> str:
        """Where run processes import flcampaign from (a link to the package, in the launch folder)."""
        return str(Path(self.launch) / "pythonpath")

    @property
    def sandbox(self) -> Sandbox:
        return Sandbox(self.sandbox_kind, self.sandbox_detail, self.sandbox_kernel)

    def named(self) -> tuple[tuple[str, str], ...]:
        return ((self.train_dir, "cross-site-data"), (self.split_root, "split-access"))

    def write(self) -> None:
        """The launch folder: the layout and the interpreter NVFlare starts client workers with."""
        launch = Path(self.launch)
        launch.mkdir(parents=True, exist_ok=True)
        importable_from(Path(self.pythonpath))
        (launch / LAYOUT_FILE).write_text(json.dumps(asdict(self)))
        path = shlex.quote(self.pythonpath)
        script = (
            f"#!/bin/sh\nPYTHONPATH={path}${{PYTHONPATH:+:$PYTHONPATH}} exec {shlex.quote(self.python)} "
            f'-m flcampaign.execution.isolation {shlex.quote(self.launch)} "$@"\n'
        )
        (launch / LAUNCHER_FILE).write_text(script)
        (launch / LAUNCHER_FILE).chmod(0o555)

    @classmethod
    def read(cls, launch: Path) -> "RunLayout":
        data = json.loads((Path(launch) / LAYOUT_FILE).read_text())
        data["sites"] = tuple(data["sites"])
        return cls(**data)

    def site_dir(self, site: str) -> str:
        return str(Path(self.workspace) / site)

    def export_policy(self) -> Policy:
        tmp = str(Path(self.tmp) / "export")
        return Policy(
            "export",
            (self.code, self.launch),
            (self.job_root, tmp),
            self.named(),
            **python_grants(),
            kernel=self.sandbox_kernel,
        )

    def server_policy(self) -> Policy:
        tmp = str(Path(self.tmp) / "server")
        # the server deploys into the client folders but never reads them back: client logs could carry rows
        clients = tuple((self.site_dir(site), "cross-site-data") for site in self.sites)
        return Policy(
            "server",
            (self.code, self.job_root, self.launch),
            (str(Path(self.workspace).parent), tmp),  # NVFlare removes and remakes the workspace itself
            self.named() + clients,
            spawn=(os.path.realpath(self.launcher),),
            fork=True,
            **python_grants(),
            # a Landlock domain may not mount, so a server that starts its clients' bubblewrap boxes is held by
            # its own box and the audit hook; every other process of a run also confines itself
            kernel=self.sandbox_kernel and not self.sandbox.boxes,
            ephemeral_tcp=True,  # NVFlare's listeners and the client workers' ports are chosen at run time
            short_waits=self.short_waits,
        )

    def client_policy(self, site: str, listen: tuple[int, ...] = (), reach: tuple[int, ...] = ()) -> Policy:
        """A client worker's policy; ``listen`` and ``reach`` are the TCP ports NVFlare gave it."""
        own = self.site_dir(site)
        others = tuple((self.site_dir(other), "cross-site-data") for other in self.sites if other != site)
        shared = tuple(str(Path(self.workspace) / name) for name in ("local", "startup"))
        return Policy(
            "client",
            (self.code, self.pythonpath, *shared),  # the pythonpath link: where flcampaign is imported from
            (own,),
            self.named() + others,
            site=site,
            **python_grants(),
            kernel=self.sandbox_kernel,
            bind_ports=listen,
            connect_ports=reach,
            short_waits=self.short_waits,
        )


def contained(policy: Policy, target: list[str], interpreter: str | None = None) -> list[str]:
    """The command that runs ``target`` (``-m module args`` or ``script args``) under ``policy``."""
    command = [sys.executable, "-m", "flcampaign.execution.contained", POLICY_ARG, policy.to_json()]
    if interpreter:
        command += ["--interpreter", interpreter]
    return [*command, *target]


def _option(argv: list[str], *names: str) -> str | None:
    for index, item in enumerate(argv):
        if item in names and index + 1 < len(argv):
            return argv[index + 1]
    return None


def _replace_option(argv: list[str], name: str, value: str) -> list[str]:
    out = list(argv)
    index = out.index(name)
    out[index + 1] = value
    return out


def _worker_ports(argv: list[str]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(ports the worker listens on, ports it connects to), from the command line NVFlare gave it."""
    listen = _option(argv, "--port")
    urls = [_option(argv, name) for name in ("--root_url", "--parent_url")]
    reach = {urlparse(url).port for url in urls if url}
    return (int(listen),) if listen and listen.isdigit() else (), tuple(sorted(p for p in reach if p))


def client_main(launch: str, argv: list[str]) -> None:
    """NVFlare's interpreter for client workers: fetch the site's own split, then start the worker boxed."""
    layout = RunLayout.read(Path(launch))
    if argv[:2] != ["-m", WORKER_MODULE]:
        stop("process", f"the server may start only NVFlare's client workers, not {' '.join(argv)[:200]}")
    site = _option(argv, "--client")
    if site not in layout.sites:
        stop("cross-site-data", f"a client worker for {site!r}, which is not a site of this task")
    try:
        fd = site_data.request(Path(layout.data_socket), site)
    except (OSError, PermissionError) as error:
        stop("cross-site-data", f"{site}'s training split was not delivered: {error}")
    own = layout.site_dir(site)
    os.makedirs(Path(own) / ".tmp", exist_ok=True)
    env = dict(os.environ, **{site_data.FD_VARIABLE: str(fd), "TMPDIR": str(Path(own) / ".tmp")})
    os.set_inheritable(fd, True)
    sandbox = layout.sandbox
    worker_args = argv[2:]
    if sandbox.boxes:
        # inside its own PID namespace the worker's parent is the box's init (pid 1), alive as long as the box
        worker_args = _replace_option(worker_args, "--parent_pid", "1")
    policy = layout.client_policy(site, *_worker_ports(worker_args))
    # the server passes its own import path on; a client keeps the entries it may read (metadata
    # look-ups read every entry, and the server's folders are not the client's)
    imports = env.get("PYTHONPATH", "").split(os.pathsep)
    env["PYTHONPATH"] = os.pathsep.join(p for p in imports if p and check_open(policy, p, "r", None) is None)
    command = contained(policy, ["-m", WORKER_MODULE, *worker_args])
    command[0] = layout.python
    if not sandbox.boxes:
        os.chdir(own)  # as in a box: the server's folder is not the client's
        os.execve(command[0], command, env)
    shared = [Path(layout.workspace) / name for name in ("local", "startup")]
    readonly = [Path(layout.code), Path(layout.pythonpath), *(path for path in shared if path.is_dir())]
    boxed = sandbox.wrap(command, Path(own), readonly=readonly, writable=[Path(own)], network=True)
    os._exit(supervise(boxed, env, fd))


def supervise(command: list[str], env: dict[str, str], fd: int) -> int:
    """Run a client's box and stay its parent: NVFlare's stop signal reaches the box, its CPU time reaches us.

    Bubblewrap neither forwards signals nor reaps its box's first process, so this launcher forwards
    the simulator's SIGTERM to the box's init and, as a subreaper, reaps it once bubblewrap is gone.
    """
    become_subreaper()
    proc = subprocess.Popen(command, env=env, pass_fds=(fd,))
    inner: set[int] = set()

    def forward(number: int, _frame: object) -> None:
        for pid in inner | children_of(proc.pid) or {proc.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    while proc.poll() is None:
        inner |= children_of(proc.pid)
        time.sleep(0.2)
    reap_orphans(inner)
    return proc.returncode


if __name__ == "__main__":
    try:
        client_main(sys.argv[1], sys.argv[2:])
    except SystemExit:
        raise
    except BaseException as error:  # a launcher that cannot start its worker ends the run
        os.write(2, f"client launcher failed: {error!r}\n".encode())
        os._exit(1)
