"""NVFlare's fixed waits that no configuration reaches, shortened at their call sites and checked against NVFlare.

Most of a simulated round of a small model is ``time.sleep`` with a literal or built-in duration in NVFlare's
code: a client retries a task fetch every 0.5 s, the in-process Client API polls for the model and for the
result every 0.5 s, a client worker sleeps 2 s before it exits, the server loop notices the end every 3 s
(docs/performance.md). No job field, simulator option or environment variable sets them, so each process of a
run (``flcampaign.execution.contained``) installs a ``time.sleep`` that caps exactly these call sites -- named
by file, line and the text on that line -- and passes every other sleep through unchanged.

Nothing here is allowed to break silently with another NVFlare: the sites were read from one NVFlare version,
and ``problems`` compares the installed version and a sha256 over the files that hold the sites; the runner
refuses to run with shortened waits when they differ (``execution.shorten_nvflare_waits: false`` runs with
NVFlare's own waits). The waits are polls of a state that another thread or process changes, and grace periods
at start and exit: shortening them changes when a message is looked for, never what is computed
(``bench/simulation_budget.py`` compares final models bit for bit).
"""

import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

NVFLARE_VERSION = "2.9.0"


@dataclass(frozen=True)
class Site:
    """One ``time.sleep`` call in NVFlare's source and the longest the runner lets it wait."""

    file: str  # relative to the nvflare package
    line: int
    text: str  # the call as it reads on that line
    cap_seconds: float


SITES = (
    # a client's retry when no task is ready
    Site("private/fed/app/simulator/simulator_worker.py", 121, "time.sleep(0.5)", 0.05),
    # a client worker's pause before it exits
    Site("private/fed/app/simulator/simulator_worker.py", 301, "time.sleep(2)", 0.0),
    # the training script's poll for the global model
    Site("client/in_process/api.py", 171, "time.sleep(sleep_time)", 0.01),
    # the executor's poll for the training script's result
    Site("app_common/executors/client_api/in_process_backend.py", 243, "time.sleep(sleep_time)", 0.01),
    # the controller's task monitor
    Site("apis/impl/wf_comm_server.py", 1058, "time.sleep(self._task_check_period)", 0.05),
    # the server's check for the end of the run
    Site("private/fed/server/fed_server.py", 1154, "time.sleep(self.check_engine_frequency)", 0.2),
    # the process manager's grace before clean-up
    Site("fuel/f3/mpm.py", 84, "time.sleep(shutdown_grace_time)", 0.2),
    # the simulator's poll for the started server
    Site("private/fed/app/simulator/simulator_runner.py", 505, "time.sleep(1.0)", 0.05),
    # the simulator's pause before a client thread's first task
    Site("private/fed/app/simulator/simulator_runner.py", 660, "time.sleep(interval)", 0.05),
    # the simulator's retry to reach a starting client worker
    Site("private/fed/app/simulator/simulator_runner.py", 866, "time.sleep(1.0)", 0.05),
    # a client's pause before each sync with the server runner
    Site("private/fed/client/client_runner.py", 749, "time.sleep(0.5)", 0.05),
    # the pause after a listener starts
    Site("fuel/f3/cellnet/connector_manager.py", 236, "time.sleep(0.5)", 0.05),
)


def nvflare_dir() -> Path:
    import nvflare

    return Path(nvflare.__file__).resolve().parent


# sha256 over the files that hold the sites (sorted by path), as in NVFLARE_VERSION
SOURCE_SHA256 = "5e4681894fa87508161fdd23fbc74131c37c3cfcab71ddf92544ec8f45d0a848"


class NVFlareMismatch(RuntimeError):
    """The installed NVFlare is not the one the capped waits were read from."""

    def __init__(self, found: list[str]):
        super().__init__(
            "execution.shorten_nvflare_waits is on, but " + "; ".join(found) + ": set it to false to run with"
            " NVFlare's own waits, or use NVFlare " + NVFLARE_VERSION
        )


def record() -> dict[str, float]:
    """What a run records: each capped site (file:line) and its cap in seconds."""
    return {f"{site.file}:{site.line}": site.cap_seconds for site in SITES}


def problems() -> list[str]:
    """Why the sites may not match the installed NVFlare (empty: they do)."""
    import nvflare

    found = []
    if nvflare.__version__ != NVFLARE_VERSION:
        found.append(f"NVFlare is {nvflare.__version__}, the waits were read from {NVFLARE_VERSION}")
    if source_sha256() != SOURCE_SHA256:
        found.append("NVFlare's files that hold the waits are not the ones they were read from")
    return found


def source_sha256() -> str:
    """The fingerprint of the installed files that hold the sites."""
    root, digest = nvflare_dir(), hashlib.sha256()
    for file in sorted({site.file for site in SITES}):
        path = root / file
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def install() -> None:
    """Cap the sites' sleeps in this process (and the processes it forks); every other sleep is unchanged."""
    by_line: dict[int, list[tuple[str, float]]] = {}
    for site in SITES:
        by_line.setdefault(site.line, []).append((f"/nvflare/{site.file}", site.cap_seconds))
    sleep = time.sleep

    def capped_sleep(seconds: float) -> None:
        caller = sys._getframe(1)
        for suffix, cap in by_line.get(caller.f_lineno, ()):
            if caller.f_code.co_filename.endswith(suffix):
                seconds = min(seconds, cap)
        sleep(seconds)

    time.sleep = capped_sleep
