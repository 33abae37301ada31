"""A/A campaigns through the real workflow: candidates that change nothing but the run's randomness.

Each null candidate shifts the seeds of the model's initialisation and of the clients' data order by
an offset of its own: the recipe, the model and the budget are the baseline's, so any gain a campaign
attributes to one is a false positive. (Shifting the data order alone is not enough on the bundled
task: the logistic regression ends on the same search-validation score whatever order its rows come
in, so such nulls never differ from the baseline.) A null campaign is a campaign folder holding the
baseline and a few such candidates, with repeat and race seeds of its own so that campaigns do not
share runs beyond the baseline's search run; it goes through validation, simulation, scoring, the
race, repeats, held-out and attribution exactly as any campaign does. ``tally`` counts the
attributions the campaigns' winners got.
"""

import copy
import difflib
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from flcampaign.agent.watch import snakemake_command
from flcampaign.config import with_defaults
from flcampaign.evidence import stats
from flcampaign.files import read_json, sha256_bytes
from flcampaign.layout import Campaign
from flcampaign.task import Task

DATA_ORDER_SEED = "generator = torch.Generator().manual_seed(args.seed * 1000 + site_index * 100)"
INIT_SEED = "torch.manual_seed(seed)"
GAINS = ("repeat-supported FL-recipe gain", "fixed-surface tuning effect")  # attributions that claim a gain
BASELINE_ID = "0000-baseline"


def _shifted(task: Task, name: str, line: str, offset: int) -> str:
    """A unified diff of ``name`` with the seed expression on ``line`` shifted by ``offset``."""
    source = (task.sources / name).read_text(encoding="utf-8")
    if line not in source:
        raise ValueError(f"{task.name}: {name} has no seed line to shift ({line!r})")
    changed = source.replace(line, line[:-1] + f" + {offset})")
    diff = difflib.unified_diff(source.splitlines(keepends=True), changed.splitlines(keepends=True), f"a/{name}",
                                f"b/{name}")  # fmt: skip
    return "".join(diff)


def null_patch(task: Task, offset: int) -> str:
    """The model's initialisation seed and the clients' data-order seed shifted by ``offset``: what another run
    seed would draw, with the run's own seed, recipe and budget unchanged (the exported job still passes the
    run's seed, as the budget check requires)."""
    return _shifted(task, "model.py", INIT_SEED, offset) + _shifted(task, "client.py", DATA_ORDER_SEED, offset)


def write_null_candidate(folder: Path, task: Task, offset: int, order: int) -> None:
    patch = null_patch(task, offset).encode()
    (folder / "patches").mkdir(parents=True)
    (folder / "patches" / "001-change.patch").write_bytes(patch)
    metadata = {
        "title": f"Null: initialisation and data-order seeds shifted by {offset}",
        "hypothesis": "Changes nothing but the run's randomness (initial weights, row order); any gain is noise.",
        "parent": "baseline",
        "family": "null",
        "created": f"2026-01-01T00:{order:02d}:00+00:00",
        "patches": {"001-change.patch": sha256_bytes(patch)},
    }
    (folder / "candidate.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False), encoding="utf-8")


def write_campaign(root: Path, baseline: Path, task: Task, index: int, n_nulls: int, config: dict) -> Campaign:
    """Null campaign ``index``: the baseline and ``n_nulls`` null candidates, repeat and race seeds of its own."""
    campaign = Campaign(Path(root))
    campaign.candidates.mkdir(parents=True)
    shutil.copytree(baseline, campaign.candidates / BASELINE_ID)
    for j in range(n_nulls):
        offset = index * n_nulls + j + 1
        write_null_candidate(campaign.candidates / f"{j + 1:04d}-null-{offset}", task, offset, j + 1)
    filled = with_defaults(copy.deepcopy({"task": task.name, **config}))
    repeats = len(filled["repeats"]["seeds"] or task.seeds["repeat"])
    n_race = len(filled["selection"]["racing"]["seeds"])
    race = config.get("selection", {}).get("racing", {})
    own = {
        "repeats": {"seeds": [10_000 + index * repeats + k for k in range(repeats)]},
        "selection": {
            **config.get("selection", {}),
            "racing": {**race, "seeds": [20_000 + index * n_race + k for k in range(n_race)]},
        },
    }
    document = {"task": task.name, **config, **own}
    campaign.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return campaign


def run_campaigns(
    out: Path,
    task: Task,
    baseline: Path,
    n_campaigns: int,
    n_nulls: int,
    config: dict,
    workflow: Callable[[Path], int],
    progress: Callable[[str], None] = print,
) -> dict:
    """Write and run ``n_campaigns`` null campaigns under ``out`` (``workflow(folder)`` runs Snakemake there and
    returns its exit code; a finished campaign is not run again), then tally them."""
    campaigns = []
    for index in range(n_campaigns):
        folder = Path(out) / f"null-{index:03d}"
        campaign = Campaign(folder)
        if not campaign.config.is_file():
            write_campaign(folder, baseline, task, index, n_nulls, config)
        started = time.monotonic()
        code = 0 if campaign.records.winners_json.is_file() else workflow(folder)
        if code != 0:
            raise RuntimeError(f"{folder}: the workflow failed (exit {code}); its logs are in {campaign.records.log()}")
        campaigns.append(campaign)
        done = tally(campaigns)
        progress(
            f"[{index + 1}/{n_campaigns}] {folder.name} in {time.monotonic() - started:.0f} s: winners "
            f"{done['per_campaign'][-1]['winners']}; a null called a gain in {done['aa_rate']:.3f} so far"
        )
    return tally(campaigns)


def snakemake_in(folder: Path, profile: Path) -> int:
    """Run the whole workflow in a campaign folder with ``profile``, its output in the folder's workflow.log."""
    folder = Path(folder)
    command = snakemake_command(str(profile), folder / "config.yaml", (), [], folder)
    with open(folder / "workflow.log", "w", encoding="utf-8") as log:
        return subprocess.run(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, check=False).returncode


def tally(campaigns: list[Campaign]) -> dict:
    """Per campaign the null winners' attributions; overall how often a campaign called any null a gain (the
    A/A rate, with its Wilson interval) and how often each attribution was given."""
    counts: dict[str, int] = {}
    per_campaign, called = [], 0
    for campaign in campaigns:
        evidence = read_json(campaign.records.winners_json)
        found = {e["candidate"]: e["attribution"] for e in evidence["entries"] if e["role"] == "winner"}
        for attribution in found.values():
            counts[attribution] = counts.get(attribution, 0) + 1
        gain = any(attribution in GAINS for attribution in found.values())
        called += gain
        per_campaign.append({"campaign": str(campaign.root), "winners": found, "called_a_gain": gain})
    low, high = stats.wilson(called, len(campaigns))
    return {
        "campaigns": len(campaigns),
        "aa_rate": called / len(campaigns) if campaigns else 0.0,
        "interval": (low, high),
        "attributions": counts,
        "per_campaign": per_campaign,
    }


def render(result: dict) -> str:
    lines = [
        f"{result['campaigns']} null campaigns through the workflow: a null winner called a gain in "
        f"{result['aa_rate']:.3f} [{result['interval'][0]:.3f}, {result['interval'][1]:.3f}] (Wilson 95%)"
    ]
    for attribution, count in sorted(result["attributions"].items()):
        lines.append(f"  {attribution}: {count} null winners")
    return "\n".join(lines)
