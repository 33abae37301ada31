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
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from flcampaign.contract import validate_candidate
from flcampaign.runner import simulate
from flcampaign.sandbox import choose
from flcampaign.scoring import score_run
from flcampaign.slots import Slot
from flcampaign.splits import load_split, prepare
from flcampaign.stats import describe
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent
BASELINE = (
    "title: baseline\nhypothesis: reference\nparent: baseline\nfamily: fedavg\ncreated: '2026-11-24T00:00:00+00:00'\n"
)


def run_seed(task: Task, root: Path, validation: dict, seed: int, sandbox) -> dict:
    out = root / "runs" / f"seed{seed}"
    tree = root / "results" / "candidates" / "baseline" / "src"
    start = time.perf_counter()
    run = simulate(
        task,
        validation,
        tree,
        root / "splits" / "train",
        "repeat",
        seed,
        out,
        root / "work" / f"seed{seed}",
        slots=[Slot(0, "cpu", "cpu0")],
        lock_dir=root / "locks",
        sandbox=sandbox,
    )
    scores = {}
    for split in ("heldout", "search_val"):
        scores[split] = score_run(task, run, out, tree, root / "splits", split, out / f"score_{split}.json", sandbox)
    return {"seed": seed, "seconds": time.perf_counter() - start, "run": run, **scores}


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
    task = Task.load(REPO / "tasks" / "leaf_synthetic", num_rounds=rounds)
    seeds = seeds or task.profile["seeds"]["repeat"]
    sandbox = choose("auto")
    with tempfile.TemporaryDirectory(prefix="flc-leaf-synthetic-bench-") as scratch:
        root = Path(keep) if keep else Path(scratch)
        (root / "candidates" / "baseline").mkdir(parents=True, exist_ok=True)
        (root / "candidates" / "baseline" / "candidate.yaml").write_text(BASELINE)
        start = time.perf_counter()
        summary = prepare(task, root / "splits")
        prepare_s = time.perf_counter() - start
        validation = validate_candidate(root / "candidates", "baseline", task, root / "results")
        if validation["state"] != "ok":
            raise SystemExit(f"baseline is {validation['state']}: {validation['reason']}")
        budget = task.budget
        print(f"LEAF synthetic baseline: {budget['n_clients']} clients, {budget['num_rounds']} rounds, batch "
              f"{budget['batch_size']}, knobs {task.knob_values({})}, sandbox {sandbox.kind}")  # fmt: skip
        if task.profile.get("budget_note"):
            print(f"  NOTE: {task.profile['budget_note']} (--rounds): below LEAF's demo budget of 20 rounds")
        rows = {split: sum(s[split] for s in summary["sites"].values()) for split in ("train", "search_val", "heldout")}
        print(f"data generated and split in {prepare_s:.1f} s: {rows}")
        majority, centralised = context(root / "splits")
        print("seed  state  wall s   held-out pooled  held-out site mean  search-val pooled")
        results = []
        for seed in seeds:
            result = run_seed(task, root, validation, seed, sandbox)
            results.append(result)
            held, val = result["heldout"], result["search_val"]
            if held["state"] != "ok":
                print(f"{seed:4d}  {held['state']}: {held['reason'] or result['run'].get('reason')}")
                continue
            print(f"{seed:4d}  ok     {result['seconds']:6.1f}   {held['score']:.4f}           "
                  f"{held['mean_over_sites']:.4f}              {val['score']:.4f}", flush=True)  # fmt: skip
        ok = [r for r in results if r["heldout"]["state"] == "ok"]
        if not ok:
            raise SystemExit("no seed finished")
        pooled = describe([r["heldout"]["score"] for r in ok])
        site_mean = describe([r["heldout"]["mean_over_sites"] for r in ok])
        seconds = statistics.median(r["seconds"] for r in ok)
    print(f"held-out accuracy, pooled: {pooled['mean']:.4f} +- {pooled['sd']:.4f} (sd over {pooled['n']} seeds)")
    print(f"  mean over sites: {site_mean['mean']:.4f} +- {site_mean['sd']:.4f}; median {seconds:.0f} s per seed")
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
