"""Task profiles: the fixed budget, data, metric, seeds and mutation surface of a campaign."""

import math
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from flcampaign.files import read_yaml, sha256_bytes, sha256_file
from flcampaign.schemas import schema_errors

BUDGET_ARGS = ("n_clients", "num_rounds", "batch_size")
SHARED_LAYER = "_shared"
DATA_BRIDGE = "fl_data.py"  # the trusted data bridge: a client reads its own site only through it


def _source_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
        unresolved = profile.get("unresolved") if isinstance(profile, dict) else None
        if unresolved:
            items = "".join(
                f"\n  - {item.get('key')}: {item.get('why')}" for item in unresolved if isinstance(item, dict)
            )
            raise ProfileError(
                f"{root / 'profile.yaml'}: task {root.name} is not ready: {len(unresolved)} unresolved (resolve "
                f"each, then delete its entry):{items}"
            )
        problems = schema_errors("profile", profile)
        if problems:
            raise ProfileError(f"{root / 'profile.yaml'}: " + "; ".join(problems))
        if profile["name"] != root.name:
            raise ProfileError(f"{root / 'profile.yaml'}: name {profile['name']!r} differs from folder {root.name!r}")
        _check_loader(root, profile)
        if num_rounds is not None and num_rounds != profile["budget"]["num_rounds"]:
            profile["budget"] = {**profile["budget"], "num_rounds": int(num_rounds)}
            profile["budget_note"] = f"rounds shortened to {num_rounds} by the campaign config"
        return cls(root, profile)

    @property
    def name(self) -> str:
        return self.profile["name"]

    @property
    def title(self) -> str:
        return self.profile["title"]

    @property
    def objective(self) -> str:
        return " ".join(self.profile["objective"].split())

    @property
    def data(self) -> dict[str, Any]:
        return self.profile["data"]

    @property
    def model(self) -> dict[str, Any]:
        return self.profile.get("model") or {}

    @property
    def seeds(self) -> dict[str, Any]:
        return self.profile["seeds"]

    @property
    def budget_note(self) -> str:
        """Why the budget differs from the profile's (rounds shortened by the campaign config), or ''."""
        return self.profile.get("budget_note", "")

    @property
    def own_sources(self) -> Path:
        """The task's own source folder (without the shared layer)."""
        return self.root / self.profile["sources"]

    @property
    def shared_sources(self) -> Path:
        """The shared source layer the profile's ``shared`` files come from."""
        return self.root.parent / SHARED_LAYER / "src"

    @cached_property
    def sources(self) -> Path:
        """The task's base source tree that candidates patch: the shared files it lists, then its own.

        Without shared files this is the task's own folder; with them, a folder named by the digest of
        its content (made once, by a rename, so concurrent jobs see a complete tree or none)."""
        shared = [name for name in self.profile.get("shared", []) if not (self.own_sources / name).exists()]
        if not shared:
            return self.own_sources
        files = {name: self.shared_sources / name for name in shared}
        files |= {p.relative_to(self.own_sources).as_posix(): p for p in _source_files(self.own_sources)}
        missing = [name for name, path in files.items() if not path.is_file()]
        if missing:
            raise ProfileError(
                f"{self.root / 'profile.yaml'}: shared source {missing[0]} is not in {self.shared_sources}"
            )
        digest = sha256_bytes(
            b"".join(name.encode() + b"\0" + path.read_bytes() + b"\0" for name, path in sorted(files.items()))
        )
        tree = Path(tempfile.gettempdir()) / "flcampaign-sources" / f"{self.name}-{digest[:16]}"
        if not tree.is_dir():
            staging = Path(tempfile.mkdtemp(prefix=f".{tree.name}-", dir=_mkdir(tree.parent)))
            for name, path in files.items():
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, staging / name)
            try:
                staging.rename(tree)
            except OSError:  # another process made it first: theirs is the same content
                shutil.rmtree(staging, ignore_errors=True)
        return tree

    def copy_to(self, dest: Path) -> "Task":
        """A self-contained copy of the task at ``dest``: its folder, with the shared files it lists copied
        into its own sources (the copy's profile lists none), so it works wherever it is put."""
        dest = Path(dest)
        shutil.copytree(self.root, dest, ignore=shutil.ignore_patterns("__pycache__"))
        own = dest / self.profile["sources"]
        for name in self.profile.get("shared", []):
            if not (own / name).exists():
                shutil.copyfile(self.shared_sources / name, own / name)
        profile_path = dest / "profile.yaml"
        text = profile_path.read_text(encoding="utf-8")
        stripped = re.sub(r"(?m)^shared:[^\n]*\n(?:[ \t]+-[^\n]*\n)*", "", text)
        profile_path.write_text(stripped, encoding="utf-8")
        return Task.load(dest, num_rounds=self.budget["num_rounds"] if "budget_note" in self.profile else None)

    @property
    def budget(self) -> dict[str, Any]:
        return self.profile["budget"]

    @property
    def metric(self) -> dict[str, Any]:
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

    @property
    def orientation(self) -> float:
        """+1 where a higher metric is better, -1 where a lower one is: the one place the direction is read."""
        return 1.0 if self.metric["direction"] == "max" else -1.0

    def gain(self, score: float, reference: float) -> float:
        """How much better ``score`` is than ``reference``: positive when it is better, whatever the direction."""
        return self.orientation * (score - reference)

    def better(self, score: float, reference: float, margin: float = 0.0) -> bool:
        """True when ``score`` beats ``reference`` by more than ``margin`` in the metric's direction."""
        return self.gain(score, reference) > margin

    @cached_property
    def fixed_source_hashes(self) -> dict[str, str]:
        """sha256 of the source files no candidate may change, by path inside the source tree."""
        return {rel: sha256_file(self.sources / rel) for rel in self.surface["fixed"]}

    @property
    def loader_file(self) -> Path | None:
        """The task's own trusted data loader (``data.loader`` naming a ``.py`` file of the task folder, outside
        the sources), or None where the loader is a bundled one of ``flcampaign.data.datasets``."""
        loader = self.data["loader"]
        return self.root / loader if loader.endswith(".py") else None

    @property
    def fixed_hashes(self) -> dict[str, str]:
        """The profile's hash, the task's own loader's and the fixed sources' hashes, as recorded with every
        validation."""
        own = self.own_sources.relative_to(self.root).as_posix()
        sources = {f"{own}/{rel}": digest for rel, digest in self.fixed_source_hashes.items()}
        loader = {self.data["loader"]: sha256_file(self.loader_file)} if self.loader_file else {}
        return {"profile.yaml": sha256_file(self.root / "profile.yaml"), **loader, **sources}

    @property
    def budget_sha256(self) -> str:
        items = sorted(self.budget.items())
        return sha256_bytes(repr(items).encode())


def _check_loader(root: Path, profile: dict[str, Any]) -> None:
    """A task's own loader is trusted code: a file of the task folder that exists and that no candidate can
    patch (outside the sources)."""
    loader = profile["data"]["loader"]
    if not loader.endswith(".py"):
        return
    where = f"{root / 'profile.yaml'}: data.loader {loader!r}"
    path = (root / loader).resolve()
    if not path.is_relative_to(root):
        raise ProfileError(f"{where} lies outside the task folder; a task's loader is one of its own files")
    if path.is_relative_to((root / profile["sources"]).resolve()):
        raise ProfileError(f"{where} lies in the sources ({profile['sources']}/), which candidates patch")
    if not path.is_file():
        raise ProfileError(f"{where}: no such file in the task folder")


def require_knobs(args: dict[str, Any], knobs: dict[str, dict[str, Any]], proposer: str) -> None:
    """Refuse knob values a trusted proposer (a control draw, the TPE sampler) produced outside the declared knobs:
    its own bug, never a candidate's fault, so it stops the step instead of becoming an invalid row."""
    for name, value in args.items():
        problem = check_knob(name, value, knobs[name])
        if problem:
            raise ValueError(f"{proposer} proposed a value outside its own knob bounds: {problem}")


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
