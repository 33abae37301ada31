"""Task profiles: the fixed budget, data, metric, seeds and mutation surface of a campaign."""

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from flcampaign.files import read_yaml, sha256_bytes, sha256_file
from flcampaign.schemas import schema_errors

BUDGET_ARGS = ("n_clients", "num_rounds", "batch_size")


class ProfileError(ValueError):
    """The task profile itself is malformed: a set-up error, not a candidate's fault."""


@dataclass(frozen=True)
class Task:
    root: Path
    profile: dict[str, Any]

    @classmethod
    def load(cls, root: Path, num_rounds: int | None = None) -> "Task":
        """Read and check ``root/profile.yaml``; ``num_rounds`` shortens the budget openly (demo runs)."""
        root = Path(root).resolve()
        profile = read_yaml(root / "profile.yaml")
        problems = schema_errors("profile", profile)
        if problems:
            raise ProfileError(f"{root / 'profile.yaml'}: " + "; ".join(problems))
        if profile["name"] != root.name:
            raise ProfileError(f"{root / 'profile.yaml'}: name {profile['name']!r} differs from folder {root.name!r}")
        if num_rounds is not None and num_rounds != profile["budget"]["num_rounds"]:
            profile["budget"] = {**profile["budget"], "num_rounds": int(num_rounds)}
            profile["budget_note"] = f"rounds shortened to {num_rounds} by the campaign config"
        return cls(root, profile)

    @property
    def name(self) -> str:
        return self.profile["name"]

    @property
    def sources(self) -> Path:
        return self.root / self.profile["sources"]

    @property
    def budget(self) -> dict[str, int]:
        return self.profile["budget"]

    @property
    def metric(self) -> dict[str, str]:
        return self.profile["metric"]

    @property
    def surface(self) -> dict[str, Any]:
        return self.profile["surface"]

    @property
    def knobs(self) -> dict[str, dict[str, Any]]:
        return self.surface["knobs"]

    def knob_values(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """Defaults of every knob, with a candidate's (already checked) overrides applied."""
        return {name: overrides.get(name, spec["default"]) for name, spec in self.knobs.items()}

    def job_args(self, name: str, seed: int, overrides: dict[str, Any]) -> list[str]:
        """Command-line arguments for the task's job.py: budget from the profile, then the knobs."""
        values = {"name": name, **{k: self.budget[k] for k in BUDGET_ARGS}, "seed": seed}
        values.update(self.knob_values(overrides))
        return [item for key, value in values.items() for item in (f"--{key}", str(value))]

    def better(self, score: float, reference: float, margin: float = 0.0) -> bool:
        """True when ``score`` beats ``reference`` by more than ``margin`` in the metric's direction."""
        if self.metric["direction"] == "max":
            return score > reference + margin
        return score < reference - margin

    @cached_property
    def fixed_source_hashes(self) -> dict[str, str]:
        """sha256 of the source files no candidate may change, by path inside the source tree."""
        return {rel: sha256_file(self.sources / rel) for rel in self.surface["fixed"]}

    @property
    def fixed_hashes(self) -> dict[str, str]:
        """The profile's hash and the fixed sources' hashes, as recorded with every validation."""
        sources = {f"{self.profile['sources']}/{rel}": digest for rel, digest in self.fixed_source_hashes.items()}
        return {"profile.yaml": sha256_file(self.root / "profile.yaml"), **sources}

    @property
    def budget_sha256(self) -> str:
        items = sorted(self.budget.items())
        return sha256_bytes(repr(items).encode())


def check_knob(name: str, value: Any, spec: dict[str, Any]) -> str | None:
    """Why ``value`` is not allowed for knob ``name``, or None when it is."""
    kind = spec["type"]
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{name} must be an integer, got {value!r}"
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"{name} must be a number, got {value!r}"
    if kind == "float" and not math.isfinite(value):
        return f"{name} must be finite, got {value!r}"
    if kind == "str" and not isinstance(value, str):
        return f"{name} must be a string, got {value!r}"
    if "choices" in spec and value not in spec["choices"]:
        return f"{name}={value!r} is not one of {spec['choices']}"
    if "min" in spec and value < spec["min"]:
        return f"{name}={value!r} is below the minimum {spec['min']}"
    if "max" in spec and value > spec["max"]:
        return f"{name}={value!r} is above the maximum {spec['max']}"
    return None
