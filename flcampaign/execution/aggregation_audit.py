"""Aggregates that aggregate, updates that are updates: the trusted audit around a candidate's aggregator.

The runner rewrites the exported server config so that NVFlare's FedAvg controller talks to
``AuditedAggregator``, which forwards every client update to the candidate's aggregator and, in
the same round, to three more instances of it built from the same configuration:

- a twin that gets the same updates (the real aggregate must be reproducible from its inputs);
- a zero world whose clients have sent all-zero updates since the first round (a server that
  aggregates stays put; one that moves there adds a model of its own);
- a noise world whose updates are random tensors of the same scale (a server whose aggregate
  does not change ignores its clients).

Each update is also checked for what a client may send: the model's tensors and a handful of
scalars, never arrays or long strings in ``meta`` or ``metrics`` (a channel for raw rows).

The audit measures and writes one JSON line per round to a descriptor the runner gave the
simulator; the runner judges the lines (``judge``). Hostile server code can add lines but not
remove the audit's own, and extra lines are a violation.
"""

import hashlib
import json
import math
import os
import random
from typing import Any

import numpy as np
from nvflare.app_common.abstract.fl_model import FLModel
from nvflare.app_common.aggregators.model_aggregator import ModelAggregator
from nvflare.fuel.utils.class_utils import instantiate_class

AUDIT_PATH = "flcampaign.execution.aggregation_audit.AuditedAggregator"
FRAMEWORK_META = {"initial_metrics", "props", "client_name", "NUM_STEPS_CURRENT_ROUND", "NUM_TRAIN_SAMPLES"}
MAX_SCALARS = 16  # numbers and short strings a client may add to metrics and meta per round
MAX_STRING = 128
TWIN_TOLERANCE = 1e-5  # relative: the same updates must give the same aggregate
ZERO_TOLERANCE = 1e-6  # relative to the real step: a server fed zeros may not move
NOISE_MINIMUM = 1e-2  # relative: random updates must change the aggregate at least this much


def build(config: dict) -> Any:
    """An NVFlare component from its exported ``{path, args}`` form, nested components included."""
    args = {
        key: build(value) if isinstance(value, dict) and "path" in value else value
        for key, value in (config.get("args") or {}).items()
    }
    return instantiate_class(config["path"], args)


def _as_array(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def _clone(value: Any) -> Any:
    return value.clone() if hasattr(value, "clone") else np.array(value, copy=True)


def _like(template: Any, array: np.ndarray) -> Any:
    """``array`` in the type the aggregator received (torch tensor or numpy array)."""
    if hasattr(template, "detach"):
        import torch

        return torch.as_tensor(array, dtype=template.dtype)
    return array.astype(np.asarray(template).dtype, copy=False)


def signature(params: dict) -> str:
    """sha256 of the tensor names and shapes: what the global model's state must also have."""
    return shape_signature({name: list(_as_array(value).shape) for name, value in params.items()})


def shape_signature(shapes: dict[str, list[int]]) -> str:
    """The same signature from names and shapes alone (a saved model's, ``saved_model.tensor_shapes``)."""
    return hashlib.sha256(json.dumps(sorted(shapes.items())).encode()).hexdigest()


def _scalars(value: Any, found: list[str], where: str) -> int:
    """How many scalars ``value`` holds; arrays and long strings are reported in ``found``."""
    if isinstance(value, dict):
        return sum(_scalars(item, found, f"{where}.{key}") for key, item in value.items())
    if isinstance(value, bool | int | float) or value is None:
        return 1
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            found.append(f"{where} is a string of {len(value)} characters")
        return 1
    found.append(f"{where} is a {type(value).__name__}, not a number")
    return 0


def update_problems(model: FLModel, expected: str | None) -> list[str]:
    """Why a client's result is more than an update: tensors beside the model's, arrays in meta, too many scalars."""
    site = str((model.meta or {}).get("client_name", "a client"))
    found: list[str] = []
    if not model.params:
        return [f"{site}: the update has no tensors"]
    if expected is not None and signature(model.params) != expected:
        found.append(f"{site}: the update's tensors differ in names or shapes from the model's")
    metrics = model.metrics or {}
    extra = {key: value for key, value in (model.meta or {}).items() if key not in FRAMEWORK_META}
    count = _scalars(metrics, found, f"{site}: metrics") + _scalars(extra, found, f"{site}: meta")
    for key in FRAMEWORK_META - {"client_name", "props", "initial_metrics"}:
        value = (model.meta or {}).get(key)
        if value is not None and not isinstance(value, int | float):
            found.append(f"{site}: meta {key} is not a number")
    if count > MAX_SCALARS:
        found.append(f"{site}: {count} values in metrics and meta (at most {MAX_SCALARS})")
    return found


def _max_abs(params: dict) -> float:
    arrays = [_as_array(value) for value in params.values()]
    return max((float(np.max(np.abs(array))) for array in arrays if array.size), default=0.0)


def _max_diff(a: dict, b: dict) -> float:
    if set(a) != set(b):
        return math.inf
    diffs = [_as_array(a[key]) - _as_array(b[key]) for key in a]
    return max((float(np.max(np.abs(diff))) for diff in diffs if diff.size), default=0.0)


class AuditedAggregator(ModelAggregator):
    """Forwards to the candidate's aggregator and measures whether its aggregate depends on the updates."""

    def __init__(self, inner: str, channel_fd: int):
        super().__init__()
        config = json.loads(inner)
        instances = [build(config) for _ in range(4)]
        random.SystemRandom().shuffle(instances)  # which instance is the real one is not knowable to it
        self._real, self._twin, self._zero, self._noise = instances
        self._channel = channel_fd
        self._rng = np.random.default_rng()  # unrelated to anything the run was seeded with
        self._round = 0
        self._signature: str | None = None
        self._problems: list[str] = []
        self._clients = 0

    def _worlds(self) -> tuple:
        return self._real, self._twin, self._zero, self._noise

    def reset_stats(self) -> None:
        for aggregator in self._worlds():
            aggregator.fl_ctx = self.fl_ctx
            aggregator.reset_stats()
        self._problems, self._clients = [], 0

    def accept_model(self, model: FLModel) -> None:
        if self._signature is None and model.params:
            self._signature = signature(model.params)
        self._problems += update_problems(model, self._signature)
        self._clients += 1
        zero = {k: _like(v, np.zeros_like(_as_array(v))) for k, v in model.params.items()}
        noise = {}
        for key, value in model.params.items():
            array = _as_array(value).astype(np.float64)
            scale = float(np.sqrt(np.mean(array**2))) if array.size else 0.0
            noise[key] = _like(value, self._rng.standard_normal(array.shape) * (scale or 1e-3))
        twin = {k: _clone(v) for k, v in model.params.items()}  # before the real one can change them in place
        worlds = list(zip(self._worlds(), (model.params, twin, zero, noise), strict=True))
        random.SystemRandom().shuffle(worlds)
        for aggregator, params in worlds:
            aggregator.fl_ctx = self.fl_ctx
            aggregator.accept_model(model if params is model.params else _copy(model, params))

    def aggregate_model(self) -> FLModel:
        real, twin, zero, noise = (aggregator.aggregate_model() for aggregator in self._worlds())
        record = {
            "round": self._round,
            "clients": self._clients,
            "params_type": str(real.params_type),
            "signature": self._signature,
            "real": _max_abs(real.params or {}),
            "twin": _max_diff(real.params or {}, twin.params or {}),
            "zero": _max_abs(zero.params or {}) if zero.params_type == real.params_type else math.inf,
            "noise": _max_diff(real.params or {}, noise.params or {}),
            "problems": self._problems[:20],
        }
        os.write(self._channel, (json.dumps(record) + "\n").encode())
        self._round += 1
        return real


def _copy(model: FLModel, params: dict) -> FLModel:
    """The same result with other tensors: each world's aggregator gets its own objects."""
    return FLModel(
        params_type=model.params_type,
        params=dict(params),
        metrics=dict(model.metrics or {}),
        meta=dict(model.meta or {}),
        current_round=model.current_round,
        total_rounds=model.total_rounds,
    )


def wrap(server_config: dict, channel_fd: int) -> tuple[list[str], bool]:
    """Put the audit around the candidate's aggregator in an exported server config.

    Returns the problems found and whether a candidate aggregator is audited (NVFlare's own
    weighted average, used when the job names none, is trusted code).

    The job may run only NVFlare's FedAvg controller with trusted (``nvflare.``) components, filters
    and widgets; the candidate's code on the server is its aggregator (and its model class).
    """
    problems, audited = [], False
    for workflow in server_config.get("workflows", []):
        if workflow.get("path") != "nvflare.app_common.workflows.fedavg.FedAvg":
            problems.append(f"the server workflow must be NVFlare's FedAvg, got {workflow.get('path')!r}")
            continue
        inner = (workflow.get("args") or {}).get("aggregator")
        if inner is None:
            continue  # NVFlare's own weighted average: trusted code
        if not isinstance(inner, dict) or "path" not in inner:
            problems.append("the aggregator must be given as an exported component with a class path")
            continue
        workflow["args"]["aggregator"] = {
            "path": AUDIT_PATH,
            "args": {"inner": json.dumps(inner), "channel_fd": channel_fd},
        }
        audited = True
    for component in server_config.get("components", []):
        path = str(component.get("path", ""))
        if not path.startswith("nvflare.") or _nested_paths(component.get("args"), skip="model"):
            problems.append(f"server component {component.get('id')!r} ({path}) is not NVFlare's own")
    for key in ("task_data_filters", "task_result_filters"):
        for item in server_config.get(key) or []:
            for flt in item.get("filters", []):
                if not str(flt.get("path", "")).startswith("nvflare."):
                    problems.append(f"server {key} entry {flt.get('path')!r} is not NVFlare's own")
    return problems, audited


def _nested_paths(args: Any, skip: str) -> list[str]:
    """Class paths of components nested in ``args`` that are not NVFlare's (the persistor's model is allowed)."""
    if not isinstance(args, dict):
        return []
    found = []
    for key, value in args.items():
        if key == skip or not isinstance(value, dict):
            continue
        if "path" in value and not str(value["path"]).startswith("nvflare."):
            found.append(str(value["path"]))
        found += _nested_paths(value.get("args"), skip)
    return found


def shipped_data(lines: list[str]) -> str:
    """The first round's problems with what clients sent (raw rows, extra tensors), from whatever was audited."""
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("problems"):
            return f"round {record.get('round')}: " + "; ".join(map(str, record["problems"][:3]))
    return ""


def judge(lines: list[str], rounds: int, model_signature: str | None) -> tuple[str, str] | None:
    """(rule, reason) when the audit lines of a finished run show a server that does not aggregate, else None.

    ``rounds`` is how many rounds were audited (0 when NVFlare's own aggregation ran).
    """
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            return "audit-channel", f"unreadable audit line {line[:80]!r}"
    if [r.get("round") for r in records] != list(range(rounds)):
        return "audit-channel", f"{len(records)} audit records for {rounds} rounds, not one per round in order"
    for record in records:
        r = record["round"]
        if record["problems"]:
            return "client-update", f"round {r}: " + "; ".join(record["problems"][:3])
        if model_signature is not None and record["signature"] != model_signature:
            return "client-update", f"round {r}: the updates' tensors are not the global model's"
        scale = record["real"]
        if record["twin"] > TWIN_TOLERANCE * max(scale, 1e-12):
            return "aggregator-reproducible", (
                f"round {r}: the same updates gave another aggregate (difference {record['twin']:.3g} "
                f"for a step of {scale:.3g}): the aggregate must be a function of its inputs"
            )
        if record["zero"] > ZERO_TOLERANCE * max(scale, 1e-12) + 1e-12:
            return "aggregator-moves-without-updates", (
                f"round {r}: with every client sending zeros since the first round the server still moved the "
                f"model by {record['zero']:.3g} (real step {scale:.3g}): it adds a model of its own"
            )
        if scale > 0 and record["noise"] < NOISE_MINIMUM * scale:
            return "aggregator-ignores-updates", (
                f"round {r}: random client updates changed the aggregate by only {record['noise']:.3g} "
                f"(step {scale:.3g}): the server ignores what its clients send"
            )
    return None
