"""Harness-side NVFlare settings that take idle time out of a simulation without changing the experiment.

In NVFlare's simulator a client sleeps for the server's ``task_request_interval`` (2 s by default) after
each result before it asks for the next task, and the FedAvg controller looks for finished tasks every
``task_check_period`` (0.5 s): with a small model most of a round is these two waits
(docs/performance.md). Both are fields of the exported job's server configuration that NVFlare reads
(``server_json_config.py``, ``BaseModelController``), so the trusted runner writes them after the
candidate's ``job.py`` has exported the job: candidate code never sets them, and each run records the
values it ran with. They only shorten waits; what is computed, on which data and in which order of
rounds, stays the same.
"""

from typing import Any

import nvflare

FEDAVG = "nvflare.app_common.workflows.fedavg.FedAvg"
DEFAULTS = {"task_request_interval": 0.1, "task_check_period": 0.05}  # NVFlare's own: 2.0 and 0.5 s


def apply(server_config: dict[str, Any], settings: dict[str, float]) -> dict[str, Any]:
    """Write ``settings`` into an exported ``config_fed_server.json`` (in place); what the run records.

    An empty ``settings`` leaves NVFlare's defaults (how the benchmark measures what they save)."""
    if "task_request_interval" in settings:
        server_config.setdefault("server", {})["task_request_interval"] = settings["task_request_interval"]
    if "task_check_period" in settings:
        for workflow in server_config.get("workflows", []):
            if workflow.get("path") == FEDAVG:
                workflow.setdefault("args", {})["task_check_period"] = settings["task_check_period"]
    return {"nvflare": nvflare.__version__, **settings}
