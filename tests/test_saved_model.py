"""The torch-free reader of a saved model's tensor names and shapes: the same signature as torch's own
loader, and nothing but plain tensors accepted."""

import io
import os
import pickle
import zipfile

import pytest
import torch

from flcampaign.execution import aggregation_audit, saved_model
from flcampaign.execution.runner import model_signature


def test_names_and_shapes_sign_as_torch_loads_them(tmp_path):
    state = {"conv.weight": torch.zeros(4, 1, 3, 3), "conv.bias": torch.zeros(4), "fc.weight": torch.ones(10, 36)}
    state["scale"] = torch.nn.Parameter(torch.ones(2, 2))  # saved through torch's parameter rebuild
    path = tmp_path / "model.pt"
    torch.save({"model": state, "meta_props": {"current_round": 14}, "train_conf": {"train": {"model": "Net"}}}, path)
    shapes = saved_model.tensor_shapes(path)
    assert shapes == {"conv.weight": [4, 1, 3, 3], "conv.bias": [4], "fc.weight": [10, 36], "scale": [2, 2]}
    loaded = torch.load(path, map_location="cpu", weights_only=True)["model"]
    assert model_signature(path) == aggregation_audit.signature(loaded)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_anything_but_plain_tensors_is_refused_unread(tmp_path):
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"model": {"w": _Exploit()}}, protocol=2))
    with pytest.raises(saved_model.SavedModelError, match="system is not part of a checkpoint"):
        saved_model.tensor_shapes(path)
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")
    assert model_signature(path).startswith("unreadable: ")  # signs as itself: no update can match it


# a tensor rebuilt with no arguments: an allowed name, called wrongly
BAD_CALL = b"\x80\x02}X\x05\x00\x00\x00model}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n)Rss."


@pytest.mark.parametrize(
    "content",
    [b"not a zip", None, {"weights": {}}, {"model": {"w": 3}}, BAD_CALL, b"\x80\x02}q\x00(X"],
    ids=["not-a-zip", "no-pickle", "no-model-key", "not-tensors", "bad-tensor-call", "truncated-pickle"],
)
def test_other_files_are_named_not_a_checkpoint(tmp_path, content):
    path = tmp_path / "model.pt"
    if content == b"not a zip":
        path.write_bytes(content)
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            if isinstance(content, bytes):
                archive.writestr("archive/data.pkl", content)
            elif content is not None:
                archive.writestr("archive/data.pkl", pickle.dumps(content, protocol=2))
            archive.writestr("archive/version", "3")
        path.write_bytes(buffer.getvalue())
    with pytest.raises(saved_model.SavedModelError, match="model.pt"):
        saved_model.tensor_shapes(path)
