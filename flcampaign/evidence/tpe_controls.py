"""A model-based control arm: Optuna's TPE sampler over the task's declared knobs, in sequential batches.

Random draws answer "could plain tuning have found this?" only for tuning that does not learn. TPE models
which knob values scored well and proposes the next batch from that model, so it is the stronger
same-budget tuner a reviewer would ask for. Each batch is one step of a checkpoint: the step tells the
sampler every score so far (rebuilt from the records, so a step re-runs the same way), asks the next
batch (constant liar, so a batch spreads out instead of asking one point several times) and writes it.
The arm gets as many simulations as the random arm, all at the search seed.
"""

import math
import warnings
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from flcampaign.layout import SCORE_RECORD, Records
from flcampaign.records import scored_records
from flcampaign.task import Task, require_knobs

TPE_PREFIX = "_tpe-"


@dataclass(frozen=True)
class TpeSettings:
    """``controls.tpe`` of the config: whether the arm runs, its batch size and its random start."""

    enabled: bool = False
    batch: int = 4
    startup: int | None = None
    seed: int = 0

    @classmethod
    def from_config(cls, controls: dict[str, Any]) -> "TpeSettings":
        tpe = controls["tpe"]
        return cls(enabled=tpe["enabled"], batch=tpe["batch"], startup=tpe["startup"], seed=controls["seed"])

    def steps(self, n: int) -> int:
        """The step that tells the last batch's scores and asks nothing: one per batch of an arm of ``n``."""
        return math.ceil(n / self.batch)

    @property
    def random_start(self) -> int:
        """Trials drawn at random before TPE models the scores: one batch unless set."""
        return self.batch if self.startup is None else self.startup


def distributions(task: Task) -> dict[str, BaseDistribution]:
    """The declared knobs as Optuna's search space, with the same bounds and scales the random arm draws from."""
    space: dict[str, BaseDistribution] = {}
    for name, spec in task.knobs.items():
        if "choices" in spec:
            space[name] = CategoricalDistribution(list(spec["choices"]))
            continue
        log = bool(spec.get("log_scale")) and float(spec["min"]) > 0
        if spec["type"] == "int":
            space[name] = IntDistribution(math.ceil(spec["min"]), math.floor(spec["max"]), log=log)
        else:
            space[name] = FloatDistribution(float(spec["min"]), float(spec["max"]), log=log)
    return space


def _recorded(value: Any, distribution: BaseDistribution) -> Any:
    """A proposed value as a knob value: floats to six significant digits, kept inside the bounds."""
    if isinstance(distribution, FloatDistribution):
        return min(max(float(f"{value:.6g}"), distribution.low), distribution.high)
    if isinstance(distribution, IntDistribution):
        return int(value)
    return value


def arm_ids(state: dict) -> list[str]:
    """Every control the arm has asked for so far, in the order it asked."""
    return [trial["id"] for trial in state["trials"]] + [trial["id"] for trial in state["next"]]


def start(task: Task, settings: TpeSettings, n: int) -> dict:
    """Step 0: the first batch, for an arm of ``n`` controls (as many as the random arm)."""
    return step(task, settings, n, None, {})


def advance(task: Task, settings: TpeSettings, previous: dict, records: Records, search_seed: int) -> dict:
    """The next step: the scores of the batch ``previous`` asked for, read from their search-seed records."""
    scores: dict[str, float | None] = {}
    for asked in previous["next"]:
        scored = scored_records(records, "control", asked["id"], [search_seed], SCORE_RECORD)
        scores[asked["id"]] = scored[search_seed][0] if scored else None
    return step(task, settings, previous["n"], previous, scores)


def step(task: Task, settings: TpeSettings, n: int, previous: dict | None, scores: dict[str, float | None]) -> dict:
    """One batch: tell the sampler the scores of the batch ``previous`` asked for, then ask the next one.

    ``scores`` maps each control of that batch to its search score (None: no score, told as failed). The arm is
    done once ``n`` trials have scores; the state lists every trial with its knob values and score.
    """
    trials = [] if previous is None else list(previous["trials"])
    for asked in [] if previous is None else previous["next"]:
        trials.append({**asked, "score": scores.get(asked["id"])})
    step_index = 0 if previous is None else previous["step"] + 1
    asked = _ask(task, settings, trials, min(settings.batch, n - len(trials)), step_index)
    return {
        "n": n,
        "batch": settings.batch,
        "startup": settings.random_start,
        "seed": settings.seed,
        "step": step_index,
        "trials": trials,
        "next": asked,
        "done": not asked,
    }


def _ask(task: Task, settings: TpeSettings, trials: list[dict], wanted: int, step_index: int) -> list[dict]:
    if wanted <= 0:
        return []
    space = distributions(task)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            # a seed per step: the random start must not repeat the previous step's draws
            seed=settings.seed * 100_003 + step_index,
            n_startup_trials=settings.random_start,
            multivariate=True,
            constant_liar=True,
        )
        study = optuna.create_study(direction="maximize" if task.orientation > 0 else "minimize", sampler=sampler)
        for trial in trials:
            told = trial["score"] is not None and math.isfinite(trial["score"])
            study.add_trial(
                create_trial(
                    params=trial["args"],
                    distributions=space,
                    value=trial["score"] if told else None,
                    state=TrialState.COMPLETE if told else TrialState.FAIL,
                )
            )
        asked = []
        for offset in range(wanted):
            proposal = study.ask(space)
            args = {name: _recorded(proposal.params[name], space[name]) for name in task.knobs}
            require_knobs(args, task.knobs, "TPE")
            asked.append({"id": f"{TPE_PREFIX}{len(trials) + offset + 1:03d}", "args": args})
    return asked
