"""Turn evaluation features into predictions with a model class (runs contained).

Usage: python predict_driver.py <policy.json> <tree> <model.pt> <model_spec.json> <features_dir> <out_dir> <report_fd>

This file is trusted, but it imports the model's module -- the candidate's, unless the task fixes
the architecture -- so it runs only as a contained subprocess under the ``predict`` policy. It sees
features, never labels; the evaluator judges its output. The report (parameter count, and for the
task's own class whether the weights fit it) goes through a descriptor that is closed before any
candidate code is imported.

Its steps (the weights read as tensors only, the class built from its spec, the weights fitted, each
block of rows predicted) are also how ``verify`` recomputes, in its own process, a score of a task
that fixes the architecture: there the class is the task's own (``own_class``), never a candidate's.
"""

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from flcampaign.execution.containment import Policy, install


def count_parameters(state: dict) -> int:
    return int(sum(torch.as_tensor(v).numel() for v in state.values()))


def load_state(model_path: Path | str) -> dict:
    """The final global model's tensors: read with ``weights_only``, so no pickled code runs."""
    return torch.load(model_path, map_location="cpu", weights_only=True)["model"]


def fit(model: torch.nn.Module, state: dict) -> None:
    """Load the weights into ``model``, every tensor and nothing else (a ``RuntimeError`` names the misfit)."""
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=True)


def predict(model: torch.nn.Module, rows: np.ndarray) -> np.ndarray:
    """The model's predictions for one block of feature rows, in one call, as float64."""
    with torch.no_grad():
        predictions = model(torch.from_numpy(rows))
    return predictions.detach().cpu().numpy().astype(np.float64)


def main(policy: str, tree: str, model_path: str, spec_path: str, features_dir: str, out_dir: str, fd: str) -> None:
    install(Policy.from_json(Path(policy).read_text()))
    torch.set_num_threads(1)
    state = load_state(model_path)
    spec = json.loads(Path(spec_path).read_text())
    report: dict[str, int | str] = {"n_params": count_parameters(state)}
    sys.path.insert(0, tree)
    model = None
    if spec.get("trusted"):  # the task's own class: no candidate code, so the fit can be reported
        model = _build(spec)
        try:
            fit(model, state)
        except RuntimeError as error:
            report["misfit"] = " ".join(str(error).split())[:400]
    with os.fdopen(int(fd), "w") as channel:  # closed before any candidate code runs
        channel.write(json.dumps(report))
    if "misfit" in report:
        raise SystemExit(3)
    if model is None:
        model = _build(spec)
        fit(model, state)
    model.eval()
    for path in sorted(Path(features_dir).glob("*.npy")):
        np.save(Path(out_dir) / path.name, predict(model, np.load(path)))


def model_class(path: str) -> Callable[..., torch.nn.Module]:
    """The class a spec's ``path`` (``module.Class``) names, imported from the modules ``sys.path`` reaches."""
    module_name, class_name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), class_name)


def _build(spec: dict) -> torch.nn.Module:
    return model_class(spec["path"])(**spec["args"])


def own_class(tree: Path, path: str) -> Callable[..., torch.nn.Module]:
    """The task's own model class from its source tree, imported in this process as the driver imports it (``tree``
    first on ``sys.path``), and afterwards neither the path nor the modules loaded from ``tree`` remain: another
    task's module of the same name (every task has a ``model``) is imported afresh. Trusted code only: the tree is
    the task's, never a candidate's."""
    with _imports_from(Path(tree)):
        return model_class(path)


@contextmanager
def _imports_from(tree: Path) -> Iterator[None]:
    top = {Path(name).stem for name in os.listdir(tree) if not name.startswith((".", "__"))}  # what it can import
    hidden = {name: module for name, module in sys.modules.items() if name.split(".")[0] in top}
    for name in hidden:  # a module of that name imported earlier (another task's) must not answer
        del sys.modules[name]
    sys.path.insert(0, str(tree))
    try:
        yield
    finally:
        sys.path.remove(str(tree))
        for name in [name for name in sys.modules if name.split(".")[0] in top]:
            del sys.modules[name]
        sys.modules.update(hidden)


if __name__ == "__main__":
    main(*sys.argv[1:8])
