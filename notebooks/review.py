# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Campaign review
#
# Rebuilds every table and plot of `reports/report.md` from the ledger and the run records, so a
# reviewer can check each number and dig further. Nothing here simulates. Open it with Jupyter
# (`jupytext --to notebook notebooks/review.py`) or run it as a script from the campaign folder:
# `python notebooks/review.py` (set `FLCAMPAIGN_RESULTS` for another results folder and
# `REVIEW_OUTPUT` for where the rebuilt plots go).

# %%
import json
import os
from pathlib import Path

import pandas as pd

from flcampaign.evidence.ledger import read_tsv
from flcampaign.reporting.plot import progress_plot, repeats_plot
from flcampaign.task import Task
from flcampaign.workflow import task_dir

RESULTS = Path(os.environ.get("FLCAMPAIGN_RESULTS", "results"))
OUTPUT = Path(os.environ.get("REVIEW_OUTPUT", RESULTS / "review"))
OUTPUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.width", 200)

ledger = pd.DataFrame(read_tsv(RESULTS / "results.tsv"))
state = json.loads((RESULTS / "campaign_state.json").read_text())
evidence = json.loads((RESULTS / "winners.json").read_text())
task = Task.load(task_dir(state["task"], RESULTS.parent))
metric = task.metric["name"]
orientation = task.orientation  # gains are positive when better

# %% [markdown]
# ## Ledger and decisions

# %%
ledger["score"] = pd.to_numeric(ledger["score"], errors="coerce")
ledger["status"] = ledger["status"].astype(str)
baseline_score = state["baseline"]["score"] if state["baseline"] else float("nan")
ledger["gain_over_baseline"] = orientation * (ledger["score"] - baseline_score)
decisions = ledger[["order", "candidate", "status", "score", "gain_over_baseline", "kind", "description"]]
print(decisions.to_string(index=False))
print(ledger["status"].value_counts().to_string())

# %% [markdown]
# ## Baseline vs best

# %%
best = state["best"]
if state["baseline"] and best:
    delta = orientation * (best["score"] - baseline_score)
    print(
        f"baseline {baseline_score:.4f}, best {best['candidate']} {best['score']:.4f}, "
        f"gain {delta:+.4f} ({100 * delta / abs(baseline_score):+.1f}%)"
    )

# %% [markdown]
# ## Progress plot

# %%
progress_plot(read_tsv(RESULTS / "results.tsv"), task, OUTPUT / "progress.png")

# %% [markdown]
# ## Repeats: per-seed scores and paired gains over the baseline


# %%
def interval(summary: dict | None) -> tuple[float, float, float]:
    return (summary["mean"], summary["ci_low"], summary["ci_high"]) if summary else (float("nan"),) * 3


def arm_table(baseline_scores: dict, scores_key: str, summary_key: str) -> pd.DataFrame:
    """Per-seed scores of the baseline and every repeated arm, with the paired gain and its interval."""
    rows = [
        {"candidate": evidence["baseline"], "role": "baseline", **{f"seed {s}": v for s, v in baseline_scores.items()}}
    ]
    for entry in evidence["entries"]:
        gain, low, high = interval(entry[summary_key])
        rows.append(
            {
                "candidate": entry["candidate"],
                "role": entry["role"],
                **{f"seed {s}": v for s, v in entry[scores_key].items()},
                "gain": gain,
                "ci_low": low,
                "ci_high": high,
                "p_one_sided": (entry[summary_key] or {}).get("p_one_sided"),
                "p_holm": (entry[summary_key] or {}).get("p_holm"),
            }
        )
    return pd.DataFrame(rows)


repeats = arm_table(evidence["baseline_scores"], "scores", "repeat")
print(repeats.to_string(index=False))
print(evidence["test"])

# %% [markdown]
# ## Held-out: the same final models on the held-out split

# %%
heldout = arm_table(evidence["baseline_heldout"], "heldout", "heldout_vs_baseline")
print(heldout.to_string(index=False))

# %% [markdown]
# ## Controls and attribution

# %%
controls = pd.DataFrame(
    [{"control": c["id"], "search_score": c["search_score"], **c["args"]} for c in evidence["controls"]]
)
print(controls.to_string(index=False))
attribution = pd.DataFrame(
    [
        {
            "winner": e["candidate"],
            "gain": interval(e["repeat"])[0],
            "heldout_gain": interval(e["heldout_vs_baseline"])[0],
            "heldout_gain_vs_control": interval(e["versus_control"])[0],
            "heldout_gain_other_aggregation": interval(e["other_aggregation"]["heldout_vs_baseline"])[0],
            "attribution": e["attribution"],
        }
        for e in evidence["entries"]
        if e["role"] == "winner"
    ]
)
print(attribution.to_string(index=False))
print(evidence["confirmation"])
print("multiplicity:", evidence["multiplicity"])
print("minimum detectable effect (80% power):", json.dumps(evidence["power"], indent=2))

# %% [markdown]
# ## Noise floor and the paired-difference plot

# %%
print(json.dumps(evidence.get("noise_floor", {}), indent=2))
repeats_plot(evidence, OUTPUT / "repeats.png")
