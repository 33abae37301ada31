"""Names and shapes of a saved global model's tensors, read without importing torch.

The runner checks the final model's signature (``aggregation_audit``) after every simulation, inside
the slot lease. Importing torch for it cost the simulate job 1.5 CPU-seconds of a ~15 s run; the names
and shapes are in the checkpoint's pickle, which this reader walks with an allowlist as narrow as
``torch.load(weights_only=True)``: an ordered dict, tensors rebuilt from storages, parameters. Anything
else in the file is refused, and tensor data is never read.
"""

import collections
import pickle
import zipfile
from pathlib import Path
from typing import Any


class SavedModelError(ValueError):
    """The file is not a torch checkpoint of plain tensors."""


class _Tensor:
    """A tensor's place in the pickle: only its shape is kept."""

    def __init__(self, _storage: Any, _offset: int, size: tuple[int, ...], *_rest: Any):
        self.shape = tuple(int(n) for n in size)


class _Storage:
    """Stands for torch's typed storage classes named in the pickle's persistent ids."""


def _parameter(data: Any, *_rest: Any) -> Any:
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _Tensor,
    ("torch._utils", "_rebuild_parameter"): _parameter,
}


class _ShapeReader(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module in ("torch", "torch.storage") and name.endswith("Storage"):
            return _Storage
        raise SavedModelError(f"{module}.{name} is not part of a checkpoint of plain tensors")

    def persistent_load(self, pid: Any) -> None:
        return None  # the tensor's bytes: never read


def tensor_shapes(path: Path, key: str = "model") -> dict[str, list[int]]:
    """``{name: shape}`` of the tensors under ``key`` in a ``torch.save`` checkpoint (zip format)."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickled = next(name for name in archive.namelist() if name.endswith("/data.pkl"))
            with archive.open(pickled) as handle:
                saved = _ShapeReader(handle).load()
    except SavedModelError:
        raise
    except Exception as error:  # a crafted pickle fails in many ways (bad arguments, bad opcodes): all are this
        raise SavedModelError(f"{path.name} is not a torch checkpoint: {error or type(error).__name__}") from None
    state = saved.get(key) if isinstance(saved, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, _Tensor) for v in state.values()):
        raise SavedModelError(f"{path.name} holds no {key!r} dict of tensors")
    return {str(name): list(tensor.shape) for name, tensor in state.items()}
