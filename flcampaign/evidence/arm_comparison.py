"""The agent against the scalar-control arms at equal cost: each arm's search scores in the order it spent its
simulations, and its best so far. Kept apart from the controls' workflow code so the plots that use it do not
depend on validation."""

from flcampaign.task import Task

ARM_NAMES = {"agent": "agent", "random": "random knobs", "tpe": "TPE on the knobs"}


def arm_runs(rows: list[dict], controls: list[dict]) -> dict[str, list[float | None]]:
    """Each arm's search scores in the order it spent its simulations (None: a run without a score): the agent's
    candidates that ran, in campaign order, then each control arm in the order it drew."""
    ran = [r for r in rows if r["status"].compared or r["status"].hard_failure]
    runs: dict[str, list[float | None]] = {"agent": [r["score"] if r["status"].compared else None for r in ran]}
    for control in controls:
        runs.setdefault(control.get("arm", "random"), []).append(control["search_score"])
    return runs


def equal_cost(runs: dict[str, list[float | None]]) -> int:
    """The runs every arm has spent: where the arms are compared at the same cost."""
    return min(len(scores) for scores in runs.values())


def best_so_far(task: Task, scores: list[float | None]) -> list[float | None]:
    """The best search score after each simulation (None until the first score)."""
    best: float | None = None
    curve = []
    for score in scores:
        if score is not None and (best is None or task.better(score, best)):
            best = score
        curve.append(best)
    return curve
