"""program.md, the agent's control plane, rendered from the task profile and the campaign config.

The prose lives in ``templates/program.md``; every number, file list and threshold comes from the
profile and config.yaml, so the rules an agent reads never drift from the rules the campaign enforces.
"""

import os
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

from flcampaign.agent.guard import GuardConfig
from flcampaign.contract import allowlist
from flcampaign.files import atomic_write_text
from flcampaign.task import Task

EMPTY = "—"


def _code(items: list[Any]) -> str:
    """Inline-code list for a table cell; an empty list still shows as a cell."""
    return ", ".join(f"`{item}`" for item in items) or EMPTY


def _row(*cells: Any) -> str:
    """One Markdown table row."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _budget_table(task: Task, rounds: int | None) -> str:
    """Every budget key of the profile; a config round override is marked in its row, not hidden."""
    rows = []
    for key, value in task.budget.items():
        if key == "num_rounds" and rounds is not None:
            value = f"{rounds} (config.yaml `num_rounds` override)"
        rows.append(_row(f"`{key}`", value))
    return "\n".join(rows)


def _added_seeds_note(adaptive: dict) -> str:
    """Where promising winners get more repeat seeds (``repeats.adaptive``), say so; else nothing."""
    seeds = adaptive.get("seeds") or []
    if len(seeds) < adaptive.get("batch", 5):
        return ""
    return f" (a winner whose gain is promising but not yet clear also on {', '.join(str(s) for s in seeds)})"


def _rounds_note(rounds: int | None) -> str:
    """Say either way whether config.yaml overrides the rounds, so a demo budget is never mistaken for the task's."""
    if rounds is None:
        return "config.yaml keeps the task profile's rounds (`num_rounds: null`)."
    return f"config.yaml sets the rounds to {rounds} (`num_rounds: {rounds}`), overriding the task profile openly."


def _knob_cell(spec: dict[str, Any], column: str) -> str:
    """A knob's bound, choices or default; a missing one shows as a dash so columns stay aligned."""
    if column not in spec:
        return EMPTY
    value = spec[column]
    if column == "choices":
        return _code(value)
    return f"`{value}`" if column == "default" else str(value)


def _knobs_table(knobs: dict[str, dict[str, Any]]) -> str:
    """One row per scalar knob: its type, bounds, choices, scale and default, as the contract checks them."""
    return "\n".join(
        _row(
            f"`{name}`",
            spec["type"],
            *(_knob_cell(spec, column) for column in ("min", "max", "choices")),
            "yes" if spec.get("log_scale") else "no",
            _knob_cell(spec, "default"),
        )
        for name, spec in knobs.items()
    )


def _cap_rule(cap: int | None) -> str:
    """The cap rule's condition; without a cap the row stays, saying it never fires."""
    if cap is None:
        return "attempts reach the cap; none is set (`max_candidates: null`), so this never fires"
    return f"attempts reach the cap of {cap} (`max_candidates`)"


def _imports_table(task: Task) -> str:
    """Each file with more than the common set, then every other file."""
    files = sorted({*allowlist.FILE_IMPORTS, *((task.surface.get("imports") or {}).get("files") or {})})
    common = allowlist.allowed_imports("", task.surface)
    rows = [f"| every file | {_code(list(common))} |"]
    for rel in files:
        extra = [name for name in allowlist.allowed_imports(rel, task.surface) if name not in common]
        rows.append(f"| `{rel}` also | {_code(extra)} |")
    rows.append("| the task's own modules | any of them, but not what they import |")
    return "\n".join(rows)


def render(task: Task, config: dict[str, Any], campaign: Path = Path(".")) -> str:
    """program.md for ``task`` under ``config`` (as returned by ``load_config``, schema defaults filled); the
    task's sources are named relative to ``campaign``, the folder the agent works from."""
    guard = GuardConfig.from_config(config)
    rounds = config["num_rounds"]
    metric = task.metric
    template = Template(files("flcampaign.agent").joinpath("templates/program.md").read_text(encoding="utf-8"))
    return template.substitute(
        title=task.title,
        objective=task.objective,
        metric=f"{metric['name']} ({metric['kind']})",
        direction=f"{metric['direction']} ({'higher' if task.orientation > 0 else 'lower'} is better)",
        site_aggregation=metric["site_aggregation"],
        budget_table=_budget_table(task, rounds),
        rounds_note=_rounds_note(rounds),
        search_seed=task.seeds["search"],
        repeat_seeds=", ".join(str(seed) for seed in config["repeats"]["seeds"] or task.seeds["repeat"]),
        race_seeds=", ".join(str(seed) for seed in config["selection"]["racing"]["seeds"]) or "none: racing is off",
        added_seeds=_added_seeds_note(config["repeats"]["adaptive"]),
        sources=os.path.relpath(task.root / task.profile["sources"], Path(campaign).resolve()),
        editable=_code(task.surface["editable"]),
        creatable=_code(task.surface["creatable"]),
        fixed=_code(task.surface["fixed"]),
        knobs_table=_knobs_table(task.knobs),
        imports_table=_imports_table(task),
        forbidden="\n".join(f"- {line}" for line in task.surface["forbidden"]),
        ledger_keep_margin=config["ledger"]["keep_margin"],
        stop_file=guard.stop_file,
        cap_rule=_cap_rule(guard.max_candidates),
        max_candidates="null (no cap)" if guard.max_candidates is None else guard.max_candidates,
        hard_crash=guard.hard_crash,
        literature_batch=guard.literature_batch,
        family_repeat=guard.family_repeat,
        plateau=guard.plateau,
        guard_material_gain=guard.material_gain,
    )


def write(task: Task, config: dict[str, Any], out: Path) -> None:
    """Render and replace ``out`` atomically, so an agent never reads half a program."""
    atomic_write_text(Path(out), render(task, config, Path(out).resolve().parent))


def is_current(task: Task, config: dict[str, Any], path: Path) -> bool:
    """Whether ``path`` holds exactly what ``render`` gives now (the drift check)."""
    path = Path(path)
    return path.is_file() and path.read_text(encoding="utf-8") == render(task, config, path.resolve().parent)
