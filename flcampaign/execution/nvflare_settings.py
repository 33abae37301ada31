"""Harness-side NVFlare settings that take idle time out of a simulation without changing the experiment.

In NVFlare's simulator a client sleeps for the server's ``task_request_interval`` (2 s by default) after
each result before it asks for the next task, and the FedAvg controller looks for finished tasks every
``task_check_period`` (0.5 s): with a small model most of a round is these two waits
(docs/performance.md). Both are fields of the exported job's server configuration that NVFlare reads
(``server_json_config.py``, ``BaseModelController``), so the trusted runner writes them after the
candidate's ``job.py`` has exported the job: candidate code never sets them, and each run records the
values it ran with. They only shorten waits; what is computed, on which data and in which order of
rounds, stays the same.

One bound is lengthened instead: before a client submits a result it asks the server whether the task
is still open and waits ``task_check_timeout`` (5 s by default, a variable of the client's job
configuration) for the answer. A server busy with eight CIFAR-sized updates on two cores can take
longer; NVFlare then logs an error and submits anyway, and that error alone would make the run a
crash. A longer bound changes nothing else: a server that never answers is still caught by the
run's stall and timeout watchdogs.
"""

from typing import Any

import nvflare

FEDAVG = "nvflare.app_common.workflows.fedavg.FedAvg"
# NVFlare's own: 2.0 s, 0.5 s and 5.0 s
DEFAULTS = {"task_request_interval": 0.1, "task_check_period": 0.05, "task_check_timeout": 60.0}


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


def apply_client(client_config: dict[str, Any], settings: dict[str, float]) -> None:
    """Write the client's share of ``settings`` into an exported ``config_fed_client.json`` (in place)."""
    if "task_check_timeout" in settings:
        client_config["task_check_timeout"] = settings["task_check_timeout"]
