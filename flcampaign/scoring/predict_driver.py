"""Turn evaluation features into predictions with a model class (runs contained).

Usage: python predict_driver.py <policy.json> <tree> <model.pt> <model_spec.json> <features_dir> <out_dir> <report_fd>

This file is trusted, but it imports the model's module -- the candidate's, unless the task fixes
the architecture -- so it runs only as a contained subprocess under the ``predict`` policy. It sees
features, never labels; the evaluator judges its output. The report (parameter count, and for the
task's own class whether the weights fit it) goes through a descriptor that is closed before any
candidate code is imported.
"""

import importlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from flcampaign.execution.containment import Policy, install


def count_parameters(state: dict) -> int:
    return int(sum(torch.as_tensor(v).numel() for v in state.values()))


def main(policy: str, tree: str, model_path: str, spec_path: str, features_dir: str, out_dir: str, fd: str) -> None:
    install(Policy.from_json(Path(policy).read_text()))
    torch.set_num_threads(1)
    state = torch.load(model_path, map_location="cpu", weights_only=True)["model"]
    spec = json.loads(Path(spec_path).read_text())
    report: dict[str, int | str] = {"n_params": count_parameters(state)}
    sys.path.insert(0, tree)
    model = None
    if spec.get("trusted"):  # the task's own class: no candidate code, so the fit can be reported
        model = _build(spec)
        try:
            model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=True)
        except RuntimeError as error:
            report["misfit"] = " ".join(str(error).split())[:400]
    with os.fdopen(int(fd), "w") as channel:  # closed before any candidate code runs
        channel.write(json.dumps(report))
    if "misfit" in report:
        raise SystemExit(3)
    if model is None:
        model = _build(spec)
        model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=True)
    model.eval()
    for path in sorted(Path(features_dir).glob("*.npy")):
        with torch.no_grad():
            predictions = model(torch.from_numpy(np.load(path)))
        np.save(Path(out_dir) / path.name, predictions.detach().cpu().numpy().astype(np.float64))


def _build(spec: dict) -> torch.nn.Module:
    module_name, class_name = spec["path"].rsplit(".", 1)
    return getattr(importlib.import_module(module_name), class_name)(**spec["args"])


if __name__ == "__main__":
    main(*sys.argv[1:8])
