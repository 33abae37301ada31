"""Turn evaluation features into predictions with a candidate's model class (runs contained).

Usage: python predict_driver.py <tree> <model.pt> <model_spec.json> <features_dir> <out_dir> <report_fd>

This file is trusted, but it imports the candidate's model module, so it runs only as a contained
subprocess. It sees features, never labels; the evaluator judges its output.
"""

import importlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch


def count_parameters(state: dict) -> int:
    return int(sum(torch.as_tensor(v).numel() for v in state.values()))


def main(tree: str, model_path: str, spec_path: str, features_dir: str, out_dir: str, report_fd: str) -> None:
    torch.set_num_threads(1)
    state = torch.load(model_path, map_location="cpu", weights_only=True)["model"]
    with os.fdopen(int(report_fd), "w") as report:  # closed before any candidate code runs
        report.write(json.dumps({"n_params": count_parameters(state)}))
    sys.path.insert(0, tree)
    spec = json.loads(Path(spec_path).read_text())
    module_name, class_name = spec["path"].rsplit(".", 1)
    model = getattr(importlib.import_module(module_name), class_name)(**spec["args"])
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=True)
    model.eval()
    for path in sorted(Path(features_dir).glob("*.npy")):
        with torch.no_grad():
            predictions = model(torch.from_numpy(np.load(path)))
        np.save(Path(out_dir) / path.name, predictions.detach().cpu().numpy().astype(np.float64))


if __name__ == "__main__":
    main(*sys.argv[1:7])
