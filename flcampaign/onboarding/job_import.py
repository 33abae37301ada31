"""Import an existing NVFlare job into a campaign's task without running a line of it.

``job.py`` is read with Python's ``ast``: the recipe class and its arguments, the simulation's client count,
and the argparse defaults and simple constants they come from. Whatever is computed at run time, hidden
behind ``**kwargs`` or missing (at least the data loader, the metric's kind and the splits) becomes an
``unresolved`` entry of the task's ``profile.yaml``; ``Task.load`` refuses the task until each is resolved.
"""

import ast
import contextlib
import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flcampaign.contract.client_protocol import CLIENT_CHECKS, call_name, dotted_name, is_true, keyword_value
from flcampaign.execution.containment import BUNDLED_TASKS
from flcampaign.task import BUDGET_ARGS, DATA_BRIDGE, SHARED_LAYER

SUPPORTED_RECIPES = {"FedAvgRecipe": "nvflare.app_opt.pt.recipes.fedavg"}  # what the campaign runner exports and runs
RECIPE_DEFAULTS = {"num_rounds": 2, "key_metric": "accuracy"}  # FedAvgRecipe's own defaults (NVFlare 2.9)
RUNNER_JOB_ARGS = ("name", *BUDGET_ARGS, "seed")  # the runner passes these to every job.py
DATA_READERS = ("torchvision.datasets", "sklearn.datasets", "datasets.load_dataset", "open", "np.load", "pd.read_csv")
# the client checks about the update itself, named at the line that sends it
UPDATE_CHECKS = (
    "compute_model_diff(...)",
    "FLModel(..., params_type=ParamsType.DIFF, ...)",
    'meta includes "NUM_STEPS_CURRENT_ROUND"',
)
KNOB_TYPES = {"int": "int", "float": "float", "str": "str"}
MAX_SOURCE_BYTES = 1 << 20  # a job.py or training script larger than this is not read
MAX_JOB_FILES, MAX_JOB_BYTES = 500, 20 << 20  # what a job's folder may hold to be copied as the task's sources
UNKNOWN = "TODO"  # the placeholder of a value the importer could not resolve


class JobImportError(ValueError):
    """The job cannot be imported at all (not parsable, not a Recipe-API job)."""


class _Unknown(Exception):
    """A value that cannot be read without running the job; the message says why."""


@dataclass
class Imported:
    """What the importer read from a job: values with where they came from, and what it could not resolve."""

    job: Path
    recipe: str
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # key -> where the value was found
    unresolved: list[dict[str, str]] = field(default_factory=list)  # {key, why}
    knobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)  # file:line what must change for the campaign's contract

    def found(self, key: str, value: Any, source: str) -> None:
        self.values[key], self.sources[key] = value, source

    def missing(self, key: str, why: str) -> None:
        self.unresolved.append({"key": key, "why": why})


class _Resolver:
    """Static values of one module: constants, single assignments, argparse defaults and imports."""

    def __init__(self, tree: ast.Module, source: str, filename: str) -> None:
        self.source, self.filename = source, filename
        self.imports: dict[str, str] = {}
        self.assigned: dict[str, list[ast.expr]] = {}
        self.arguments: dict[str, dict[str, Any]] = {}
        self.namespaces: set[str] = set()
        parsers = {"parse_args"} | {  # functions that return parse_args()'s namespace
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef)
            and any(
                isinstance(ret, ast.Return) and isinstance(ret.value, ast.Call) and "parse_args" in call_name(ret.value)
                for ret in ast.walk(node)
            )
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports[alias.asname or alias.name.split(".")[0]] = alias.name
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.assigned.setdefault(node.targets[0].id, []).append(node.value)
                if isinstance(node.value, ast.Call) and call_name(node.value).split(".")[-1] in parsers:
                    self.namespaces.add(node.targets[0].id)
            elif isinstance(node, ast.Call) and call_name(node).endswith(".add_argument"):
                self._argument(node)

    def _argument(self, call: ast.Call) -> None:
        flags = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        long = next((f for f in flags if f.startswith("--")), None)
        if long is None:
            return
        spec: dict[str, Any] = {"flag": long, "line": call.lineno, "type": "str"}
        for keyword in call.keywords:
            if keyword.arg == "type" and isinstance(keyword.value, ast.Name):
                spec["type"] = keyword.value.id
            elif keyword.arg in ("default", "required", "choices", "action"):
                try:
                    spec[keyword.arg] = self.value(keyword.value)
                except _Unknown as unknown:
                    spec[f"{keyword.arg}_unknown"] = str(unknown)
            elif keyword.arg == "dest" and isinstance(keyword.value, ast.Constant):
                spec["dest"] = keyword.value.value
        if spec.get("action") in ("store_true", "store_false"):
            spec["type"] = "bool"
            spec.setdefault("default", spec["action"] == "store_false")
        self.arguments[spec.get("dest", long[2:].replace("-", "_"))] = spec

    def where(self, node: ast.AST) -> str:
        return f"{self.filename}:{getattr(node, 'lineno', '?')}"

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ast.dump(node)[:80]

    def value(self, node: ast.expr, seen: frozenset[str] = frozenset()) -> Any:
        """The value ``node`` has when the job runs with its defaults, or ``_Unknown`` saying why not."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self.value(node.operand, seen)
        if isinstance(node, ast.Name):
            return self._name(node.id, seen)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.namespaces:
            return self._default(node.attr)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    if part.format_spec is not None:
                        raise _Unknown(f"formatted at run time: `{self.segment(node)}` ({self.where(node)})")
                    parts.append(str(self.value(part.value, seen)))
                else:
                    parts.append(str(self.value(part, seen)))
            return "".join(parts)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(item, seen) for item in node.elts]
        if isinstance(node, ast.Dict) and all(key is not None for key in node.keys):
            return {self.value(k, seen): self.value(v, seen) for k, v in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type]
        if isinstance(node, ast.Call) and call_name(node) in ("os.path.join", "str"):
            return os.path.join(*(str(self.value(arg, seen)) for arg in node.args))
        raise _Unknown(f"computed at run time: `{self.segment(node)}` ({self.where(node)})")

    def _name(self, name: str, seen: frozenset[str]) -> Any:
        if name == "__file__":
            raise _Unknown("the job's own path, known only when it runs")
        if name in seen:
            raise _Unknown(f"{name} is defined through itself")
        assigned = self.assigned.get(name, [])
        if len(assigned) == 1:
            return self.value(assigned[0], seen | {name})
        if len(assigned) > 1:
            raise _Unknown(f"{name} is assigned {len(assigned)} times in {self.filename}")
        if name in self.imports:
            raise _Unknown(f"{name} comes from an import ({self.imports[name]})")
        raise _Unknown(f"{name} is not defined in {self.filename}")

    def _default(self, dest: str) -> Any:
        spec = self.arguments.get(dest)
        if spec is None:
            raise _Unknown(f"args.{dest} has no add_argument in {self.filename}")
        if "default" not in spec:
            raise _Unknown(f"{spec['flag']} has no default ({self.filename}:{spec['line']}): given on the command line")
        return spec["default"]

    def class_path(self, node: ast.expr) -> str:
        """``mod.Class`` of a constructor call's class, through the module's imports."""
        name = dotted_name(node)
        head, _, rest = name.partition(".")
        origin = self.imports.get(head, head)
        return f"{origin}.{rest}" if rest else origin


def _parse(path: Path) -> tuple[ast.Module, str]:
    """The file's syntax tree, or a refusal naming the file (and the line where Python gives one)."""
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise JobImportError(
            f"{path}: {path.stat().st_size} bytes; a job's source files are read up to {MAX_SOURCE_BYTES}"
        )
    try:
        source = path.read_text(encoding="utf-8")
        return ast.parse(source, filename=path.name), source
    except SyntaxError as error:
        raise JobImportError(f"{path}:{error.lineno}: does not parse: {error.msg}") from None
    except UnicodeDecodeError as error:
        raise JobImportError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except (ValueError, RecursionError, MemoryError) as error:
        raise JobImportError(f"{path}: does not parse: {type(error).__name__}: {str(error)[:200]}") from None


def _job_folder_files(folder: Path) -> list[Path]:
    """The files of the job's folder that become the task's sources; a folder too large to be a job's is
    refused before anything is written (job.py may sit in a project's root)."""
    files, total = [], 0
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).parts
        if any(part.startswith(".") or part == "__pycache__" for part in relative) or not path.is_file():
            continue
        files.append(path)
        total += path.stat().st_size
        if len(files) > MAX_JOB_FILES or total > MAX_JOB_BYTES:
            raise JobImportError(
                f"{folder}: more than {MAX_JOB_FILES} files or {MAX_JOB_BYTES // 2**20} MB; the job's folder becomes "
                "the task's sources, so put job.py and the modules it uses in a folder of their own"
            )
    return files


def _recipe_call(tree: ast.Module, job: Path) -> ast.Call:
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    recipes = [c for c in calls if call_name(c).split(".")[-1].endswith("Recipe")]
    supported = ", ".join(f"{name} ({module})" for name, module in SUPPORTED_RECIPES.items())
    if not recipes:
        built = "FedJob" if any(call_name(c).split(".")[-1] == "FedJob" for c in calls) else "no recipe class"
        raise JobImportError(
            f"{job}: not a Recipe-API job ({built}: no call of a recipe class found); flcampaign imports jobs "
            f"built with NVFlare's Recipe API: {supported}"
        )
    unsupported = sorted({call_name(c).split(".")[-1] for c in recipes} - set(SUPPORTED_RECIPES))
    if unsupported:
        raise JobImportError(f"{job}: uses {', '.join(unsupported)}; flcampaign runs jobs built with {supported}")
    if len(recipes) > 1:
        raise JobImportError(f"{job}: builds {len(recipes)} recipes (lines {[c.lineno for c in recipes]}); import one")
    return recipes[0]


def _read_recipe(imported: Imported, resolver: _Resolver, recipe: ast.Call) -> None:
    for keyword in recipe.keywords:
        if keyword.arg is None:
            imported.missing(
                "recipe",
                f"arguments passed through **{resolver.segment(keyword.value)} ({resolver.where(keyword.value)}) "
                "cannot be read without running the job: write them out",
            )
    passed_through = any(keyword.arg is None for keyword in recipe.keywords)
    for key, profile_key in (("num_rounds", "budget.num_rounds"), ("key_metric", "metric.name"), ("name", "name")):
        node = keyword_value(recipe, key)
        if node is None and passed_through:
            imported.missing(profile_key, f"no {key}= is written out; it may come through **kwargs")
            continue
        if node is None:
            if key in RECIPE_DEFAULTS:
                imported.found(profile_key, RECIPE_DEFAULTS[key], f"{imported.recipe}'s default {key}")
            continue
        try:
            imported.found(profile_key, resolver.value(node), f"{key}= at {resolver.where(node)}")
        except _Unknown as unknown:
            imported.missing(profile_key, str(unknown))
    node = keyword_value(recipe, "min_clients")
    if node is not None:
        try:
            imported.found("budget.n_clients", resolver.value(node), f"min_clients= at {resolver.where(node)}")
        except _Unknown as unknown:
            imported.missing("budget.n_clients", str(unknown))
    _read_script(imported, resolver, recipe)
    _read_model(imported, resolver, keyword_value(recipe, "model") or keyword_value(recipe, "initial_model"), "model")
    aggregator = keyword_value(recipe, "aggregator")
    if aggregator is not None:
        _read_model(imported, resolver, aggregator, "aggregator")


def _read_script(imported: Imported, resolver: _Resolver, recipe: ast.Call) -> None:
    script = keyword_value(recipe, "train_script")
    if script is None:
        imported.missing("train_script", "the recipe names no train_script")
        return
    literals = [n.value for n in ast.walk(script) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    names = [Path(text).name for text in literals if text.endswith(".py")]
    with contextlib.suppress(_Unknown):  # else a path built from the job's own location: its file name matters
        names = [Path(str(resolver.value(script))).name]
    if not names:
        imported.missing("train_script", f"computed at run time: `{resolver.segment(script)}`")
        return
    imported.found("train_script", names[-1], f"train_script= at {resolver.where(script)}")
    train_args = keyword_value(recipe, "train_args")
    if train_args is None:
        imported.found("train_args", {}, "no train_args")
        return
    try:
        words = shlex.split(str(resolver.value(train_args)))
    except _Unknown as unknown:
        imported.missing("train_args", str(unknown))
        return
    flags = {w[2:]: words[i + 1] for i, w in enumerate(words[:-1]) if w.startswith("--")}
    imported.found("train_args", flags, f"train_args= at {resolver.where(train_args)}")


def _read_model(imported: Imported, resolver: _Resolver, node: ast.expr | None, key: str) -> None:
    if node is None:
        if key == "model":
            imported.missing("model", "the recipe names no model")
        return
    if isinstance(node, ast.Call):
        args: dict[str, Any] = {}
        for keyword in node.keywords:
            try:
                args[str(keyword.arg)] = resolver.value(keyword.value)
            except _Unknown as unknown:
                imported.missing(f"{key}.args.{keyword.arg}", str(unknown))
        if node.args:
            imported.missing(f"{key}.args", f"positional arguments at {resolver.where(node)}: name them")
        imported.found(key, {"class": resolver.class_path(node.func), "args": args}, resolver.where(node))
        return
    try:
        spec = resolver.value(node)
        imported.found(key, {"class": spec["class_path"], "args": spec.get("args", {})}, resolver.where(node))
    except (_Unknown, TypeError, KeyError) as problem:
        imported.missing(key, f"not a constructor call or a class_path dict: {problem}")


def _read_simulation(imported: Imported, resolver: _Resolver, tree: ast.Module) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and call_name(node).split(".")[-1] == "SimEnv":
            clients = keyword_value(node, "num_clients")
            if clients is None:
                continue
            try:
                n = resolver.value(clients)
            except _Unknown as unknown:
                if not any(item["key"] == "budget.n_clients" for item in imported.unresolved):
                    imported.missing("budget.n_clients", f"SimEnv's num_clients: {unknown}")
                return
            if imported.values.get("budget.n_clients", n) != n:
                imported.missing("budget.n_clients", f"min_clients and SimEnv(num_clients={n}) differ")
            imported.found("budget.n_clients", n, f"SimEnv(num_clients=) at {resolver.where(clients)}")


def _read_client(imported: Imported, client: Path) -> None:
    """The training script's scalar arguments become knobs; its contract problems, the changes to make."""
    tree, source = _parse(client)
    resolver = _Resolver(tree, source, client.name)
    job_flags = imported.values.get("train_args", {})
    for dest, spec in resolver.arguments.items():
        if spec["type"] == "bool" or dest in RUNNER_JOB_ARGS or dest in job_flags:
            if dest == "batch_size" and "default" in spec and "budget.batch_size" not in imported.values:
                imported.found(
                    "budget.batch_size", spec["default"], f"{client.name}:{spec['line']} --batch_size default"
                )
            continue
        knob_type = KNOB_TYPES.get(spec["type"])
        if knob_type is None or "default" not in spec or spec["default"] is None:
            continue
        imported.knobs[dest] = _knob(knob_type, spec)
        bounds = imported.knobs[dest].get("choices") or [imported.knobs[dest].get(k) for k in ("min", "max")]
        imported.missing(
            f"surface.knobs.{dest}",
            f"{client.name}:{spec['line']} --{dest} {knob_type}, default {spec['default']!r}: the range {bounds} is "
            "proposed from the default; confirm it",
        )
    checks = [label for label, check in CLIENT_CHECKS if not check(tree)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = call_name(node)
            if name.endswith(".load_state_dict") and not is_true(keyword_value(node, "strict")):
                imported.changes.append(f"{client.name}:{node.lineno}: load the global weights with strict=True")
            if any(name == reader or name.startswith(reader + ".") for reader in DATA_READERS) or any(
                resolver.class_path(node.func).startswith(reader) for reader in DATA_READERS[:3]
            ):
                imported.changes.append(
                    f"{client.name}:{node.lineno}: reads data itself (`{resolver.segment(node)[:60]}`): a client reads "
                    f"its own site only through the data bridge, {DATA_BRIDGE[:-3]}.load_train(site)"
                )
    strict_lines = any("strict=True" in change for change in imported.changes)
    sends = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call) and call_name(node) == "flare.send"]
    for label in checks:
        if strict_lines and "strict=True" in label:
            continue  # said above, with its line
        where = f"{client.name}:{sends[0]}" if sends and label in UPDATE_CHECKS else client.name
        imported.changes.append(f"{where}: client contract: missing or broken: {label}")
    if "load_train" not in source:
        imported.changes.append(f"{client.name}: no call of {DATA_BRIDGE[:-3]}.load_train(site): the data bridge")


def _knob(knob_type: str, spec: dict[str, Any]) -> dict[str, Any]:
    default = spec["default"]
    if spec.get("choices"):
        return {"type": knob_type, "choices": list(spec["choices"]), "default": default}
    if knob_type == "float" and default > 0:
        return {"type": "float", "min": default / 10, "max": default * 10, "log_scale": True, "default": default}
    if knob_type == "int":
        return {"type": "int", "min": max(1, default // 2), "max": max(2, default * 2), "default": default}
    if knob_type == "str":
        return {"type": "str", "choices": [default], "default": default}
    return {"type": knob_type, "min": default - 1, "max": default + 1, "default": default}


def _check_job_args(imported: Imported, resolver: _Resolver) -> None:
    """The runner passes the budget, the seed and every knob to job.py, which hands the client its share."""
    for dest in (*RUNNER_JOB_ARGS, *imported.knobs):
        if dest not in resolver.arguments:
            imported.changes.append(
                f"job.py: accept --{dest} (argparse): the campaign runner passes it"
                + (" and job.py must hand it to the client in train_args" if dest in imported.knobs else "")
            )
        elif "default" in resolver.arguments[dest] and dest in RUNNER_JOB_ARGS:
            line = resolver.arguments[dest]["line"]
            imported.changes.append(f"job.py:{line}: --{dest} has a default; make it required (the runner passes it)")
    flags = imported.values.get("train_args", {})
    for dest in ("batch_size", "seed"):
        if dest not in flags:
            imported.changes.append(f"job.py: pass --{dest} to the client in train_args (checked on the exported job)")


def read_job(job: Path) -> Imported:
    """Everything the importer can read from ``job`` (a ``job.py``) and its training script, running nothing."""
    job = Path(job)
    if not job.is_file():
        raise JobImportError(f"{job}: no such file")
    tree, source = _parse(job)
    _job_folder_files(job.parent)
    resolver = _Resolver(tree, source, job.name)
    recipe = _recipe_call(tree, job)
    imported = Imported(job, call_name(recipe).split(".")[-1])
    _read_recipe(imported, resolver, recipe)
    _read_simulation(imported, resolver, tree)
    if "budget.n_clients" not in imported.values and not any(
        u["key"] == "budget.n_clients" for u in imported.unresolved
    ):
        imported.missing("budget.n_clients", "neither min_clients nor SimEnv(num_clients=) is given")
    script = imported.values.get("train_script")
    if script is not None:
        if (job.parent / script).is_file():
            _read_client(imported, job.parent / script)
        else:
            imported.missing("train_script", f"{script} is not in the job's folder {job.parent}")
    if "budget.batch_size" not in imported.values:
        found = imported.values.get("train_args", {}).get("batch_size")
        if found is not None and found.lstrip("-").isdigit():
            imported.found("budget.batch_size", int(found), "train_args --batch_size")
        else:
            imported.missing("budget.batch_size", "no --batch_size in train_args or the training script's defaults")
    _check_job_args(imported, resolver)
    return imported


def _profile(imported: Imported, name: str) -> dict[str, Any]:
    values = imported.values
    metric = values.get("metric.name", UNKNOWN)
    script = values.get("train_script", "client.py")
    editable = sorted({"job.py", script, *(f"{m.split('.')[0]}.py" for m in _local_modules(imported))})
    return {
        "name": name,
        "title": f"{values.get('name', name)} (imported NVFlare job {imported.job.parent.name}/{imported.job.name})",
        "objective": f"Raise the {metric} of the final global model on the search-validation split within the "
        "imported job's budget, by changing the FL recipe on the declared surface.",
        "sources": "src",
        "data": {"loader": "loader.py", "raw": "data", "search_val_fraction": 0.2, "split_seed": 0},
        "budget": {
            "n_clients": values.get("budget.n_clients", UNKNOWN),
            "num_rounds": values.get("budget.num_rounds", UNKNOWN),
            "batch_size": values.get("budget.batch_size", UNKNOWN),
            "max_model_params": UNKNOWN,
            "timeout_seconds": 900,
            "stall_seconds": 120,
            "predict_timeout_seconds": 120,
        },
        "model": {"input_features": UNKNOWN, "fixed": None},
        "metric": {"name": metric, "kind": UNKNOWN, "direction": UNKNOWN, "site_aggregation": "pooled"},
        "seeds": {"search": 0, "repeat": [42, 43, 44, 45, 46]},
        "surface": {
            "editable": editable,
            "creatable": ["fl_extra_*.py"],
            "fixed": [DATA_BRIDGE],
            "knobs": imported.knobs,
            "forbidden": [
                "changing the number of clients, rounds or the batch size (passed by the runner, checked on the "
                "exported job)",
                "sending FULL weights or numpy arrays instead of torch DIFF updates",
                "removing NUM_STEPS_CURRENT_ROUND from the update's meta",
                "reading data other than through fl_data.load_train, or any site's rows but the client's own",
                "editing fl_data.py, the profile, the loader, the splits or the evaluator",
            ],
        },
    }


def _local_modules(imported: Imported) -> list[str]:
    """The job's own modules the model and aggregator come from (those in its folder)."""
    classes = [imported.values.get(key, {}).get("class", "") for key in ("model", "aggregator")]
    return [
        c.rsplit(".", 1)[0] for c in classes if "." in c and (imported.job.parent / f"{c.split('.')[0]}.py").is_file()
    ]


TASK_TODOS = (
    (
        "data.loader",
        "write loader.py in the task folder: load_centers(raw_dir, n_sites, options) gives each site's "
        "(x_train, y_train, x_test, y_test); the job reads its data at run time, which the importer cannot see",
    ),
    ("data.raw", "put the raw data (or a SOURCES.md saying how the loader fetches it) in the task's data/ folder"),
    (
        "splits",
        "confirm data.search_val_fraction 0.2 and data.split_seed 0: the share of each site's training rows "
        "carved out as the search-validation split; the loader's test rows are the held-out split",
    ),
    ("metric.kind", "how the trusted evaluator scores predictions: binary_accuracy, accuracy or c_index"),
    ("metric.direction", "max or min"),
    ("model.input_features", "the number of features per row the loader gives"),
    ("budget.max_model_params", "the largest model a candidate may train (the baseline's size, with room)"),
)


def write_task(imported: Imported, task_dir: Path) -> Path:
    """The task folder: the job's sources in ``src/`` with the data bridge, ``profile.yaml`` with what was
    found and an ``unresolved`` list, an empty ``data/``."""
    task_dir = Path(task_dir)
    src = task_dir / "src"
    folder = imported.job.parent
    for path in _job_folder_files(folder):
        (src / path.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, src / path.relative_to(folder))
    if not (src / DATA_BRIDGE).exists():
        shutil.copyfile(BUNDLED_TASKS / SHARED_LAYER / "src" / DATA_BRIDGE, src / DATA_BRIDGE)
    (task_dir / "data").mkdir(exist_ok=True)
    profile = _profile(imported, task_dir.name)
    unresolved = [*imported.unresolved, *({"key": k, "why": why} for k, why in TASK_TODOS)]
    document = {**profile, "unresolved": unresolved}
    header = (
        f"# Imported from {imported.job} by `flcampaign init --from-job` (nothing was run).\n"
        "# Resolve each `unresolved` entry, replace each TODO and delete the entry; the task is refused until\n"
        "# the list is empty. Found values say where they came from in import.md.\n"
    )
    (task_dir / "profile.yaml").write_text(header + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    (task_dir / "import.md").write_text(report(imported, unresolved), encoding="utf-8")
    return task_dir


def unresolved_of(task_dir: Path) -> list[dict[str, str]]:
    """The task's open ``unresolved`` entries, as its profile lists them now."""
    profile = yaml.safe_load((Path(task_dir) / "profile.yaml").read_text(encoding="utf-8"))
    return list(profile.get("unresolved") or [])


def report(imported: Imported, unresolved: list[dict[str, str]]) -> str:
    """What was found (and where), what is unresolved, and what must change in the sources."""
    lines = [f"# Import of {imported.job} ({imported.recipe})", "", "## Found", ""]
    lines += [f"- `{key}`: {imported.values[key]!r} ({source})" for key, source in imported.sources.items()]
    lines += ["", f"## Unresolved ({len(unresolved)}): the task is refused until each is resolved", ""]
    lines += [f"- `{item['key']}`: {item['why']}" for item in unresolved]
    lines += ["", f"## Changes the sources need ({len(imported.changes)})", ""]
    lines += [f"- {change}" for change in imported.changes] or ["- none"]
    return "\n".join(lines) + "\n"
