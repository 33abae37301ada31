"""The LEAF synthetic baseline at LEAF's demo budget over the repeat seeds, scored on the held-out split.

Real NVFlare simulations of the unchanged task sources (the baseline candidate: LEAF's synthetic.log_reg,
plain SGD at LEAF's lr 0.0003, batch 10, 20 rounds), one per seed, each scored by the trusted
evaluator on the held-out split (LEAF's per-user 40% test rows) and, for context, on the
search-validation split. Two context figures computed here, not published: the majority-class rate
and a centralised multinomial logistic regression fitted to convergence on all LEAF train rows.

There is no published accuracy for this setting: datasets.md section 7 gives none, LEAF ships no
paper_experiments script for synthetic, and LEAF's own protocol (one client per user, 2 users a round)
differs from 100-user clients that all train every round. The script says so and prints ours.

Usage: python bench/baseline_leaf_synthetic.py [--seeds 42 43 44 45 46] [--rounds N] [--keep DIR]
  --seeds     default: the profile's repeat seeds (42-46); fewer seeds shorten the run.
  --rounds N  shortens the budget openly (the output says so); the default is the profile's 20 rounds.
  --keep DIR  keeps splits, models and score files in DIR instead of a temporary folder.
"""

import argparse
import warnings
from pathlib import Path

import numpy as np
from baseline import (
    finished,
    header,
    prepare_splits,
    scratch,
    seed_table,
    set_up,
    spread_text,
    summary,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from flcampaign.data.splits import load_split
from flcampaign.execution.sandbox import choose
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent


def context(splits: Path) -> tuple[float, float]:
    """Held-out majority-class rate, and a centralised logistic regression's held-out accuracy."""
    parts = {s: load_split(splits, s) for s in ("train", "search_val", "heldout")}
    x = np.concatenate([x for s in ("train", "search_val") for x, _ in parts[s].values()]).astype(np.float64)
    y = np.concatenate([y for s in ("train", "search_val") for _, y in parts[s].values()]).astype(int)
    x_held = np.concatenate([x for x, _ in parts["heldout"].values()]).astype(np.float64)
    y_held = np.concatenate([y for _, y in parts["heldout"].values()]).astype(int)
    majority = float(np.mean(y_held == np.bincount(y).argmax()))
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    return majority, float(model.score(x_held, y_held))


def main(seeds: list[int] | None, rounds: int | None, keep: Path | None) -> None:
    task = Task.load(REPO / "flcampaign" / "tasks" / "leaf_synthetic", num_rounds=rounds)
    seeds = seeds or task.seeds["repeat"]
    sandbox = choose("auto")
    with scratch(keep, "flc-leaf-synthetic-bench-") as root:
        rows, prepare_s = prepare_splits(task, root)
        try:
            validation = set_up(task, root)
        except ValueError as error:
            raise SystemExit(str(error)) from None
        print(header(task, sandbox, "LEAF synthetic", "below LEAF's demo budget of 20 rounds"))
        print(f"data generated and split in {prepare_s:.1f} s: {rows}")
        majority, centralised = context(root / "splits")
        ok = finished(seed_table(task, root, validation, seeds, sandbox))
    if not ok:
        raise SystemExit("no seed finished")
    pooled = summary(ok, "score")
    print(spread_text(ok))
    print("published figure for this setting: none. datasets.md section 7 gives the data's reference statistics")
    print("  but no accuracy, and LEAF publishes no synthetic.log_reg result for these settings (its protocol")
    print("  trains 2 single-user clients a round; here 10 clients of 100 users each train every round).")
    print(f"context (computed here, not published): majority class {majority:.4f}; centralised multinomial")
    print(f"  logistic regression fitted to convergence on all LEAF train rows {centralised:.4f}.")
    binomial = float(np.sqrt(pooled["mean"] * (1 - pooled["mean"]) / rows["heldout"]))
    print(f"expected tolerance: there is no published figure to be within. Between seeds {seeds} only the")
    print("  initialisation and the batch order change (the data and split are fixed), so their sd is the")
    print(f"  recipe's own noise: {pooled['sd']:.4f} here, against a binomial sd of {binomial:.4f} on")
    print(f"  {rows['heldout']:,} held-out rows. A rerun of this script should give the same mean within")
    print("  +-0.01 (bit-identical on the same CPU stack is likely but not promised: NVFlare and BLAS are free")
    print("  to change reduction order), and a candidate's gain should clear about 2 seed sds.")
    print(f"  LEAF's lr 0.0003 over 20 rounds leaves the baseline {centralised - pooled['mean']:.2f} below the")
    print("  centralised fit: the headroom a campaign on the declared surface can work with.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the profile's repeat seeds (42-46)")
    parser.add_argument("--rounds", type=int, help="shorten the budget openly (default: the profile's 20 rounds)")
    parser.add_argument("--keep", type=Path, help="keep the artifacts in this folder")
    args = parser.parse_args()
    main(args.seeds, args.rounds, args.keep)
