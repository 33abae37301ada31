"""The Fed-TCGA-BRCA baseline at FLamby's FedAvg budget over the repeat seeds, next to FLamby's table.

Real NVFlare simulations of the unchanged task sources (the baseline candidate: FedAvg, client SGD at
lr 0.1, 100 local steps of batch 8, 5 rounds, 6 regions), one per seed, each scored by the trusted
evaluator on the held-out split, which is FLamby's static test split (222 patients, 32 events). For
every seed it prints the pooled C-index and the mean over the six clients, the two figures FLamby
reports, and then the per-client means over seeds next to FLamby's FedAvg row.

Usage: python bench/baseline_tcga_brca.py [--seeds 42 43 44 45 46] [--rounds N] [--keep DIR]
                                          [--replica-seeds N] [--replica-only]
  --rounds N          shortens the budget openly (the output says so); the default is the profile's 5 rounds.
  --keep DIR          keeps splits, models and score files in DIR instead of a temporary folder.
  --replica-seeds N   also runs FLamby's FedAvg in plain torch (no NVFlare) on seeds 0..N-1 and prints the
                      seed-to-seed spread of the test C-index, which sets the tolerance (60 seeds: ~3 min).
  --replica-only      only the replica.
"""

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch
from baseline import (
    finished,
    header,
    median_seconds,
    prepare_splits,
    scratch,
    seed_table,
    set_up,
    summary,
)

from flcampaign.data.datasets import tcga_brca
from flcampaign.data.splits import carve_search_val
from flcampaign.evidence.stats import describe
from flcampaign.execution.sandbox import choose
from flcampaign.scoring.evaluator import c_index
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent
# FLamby's FedAvg row for Fed-TCGA-BRCA (seeds 42-46; shared/reference/datasets.md section 4):
# per-client test C-index means over seeds, the pooled test C-index, and mean +- sd over clients x seeds.
FLAMBY_CLIENTS = (0.745, 0.627, 0.691, 0.675, 0.787, 0.867)
FLAMBY_POOLED = 0.735
FLAMBY_CLIENT_MEAN, FLAMBY_CLIENT_SD = 0.732, 0.227
TEST_EVENTS = (14, 4, 8, 3, 2, 1)
# Tolerances, and why. The test split is fixed but tiny: 32 events pooled, 14/4/8/3/2/1 per client (client
# 5 has one event, so its C-index moves in steps of 0.1 or more). Worse, FedAvg at lr 0.1 on raw covariates
# (age in years) is very seed-sensitive. The plain-torch replica below (--replica-only --replica-seeds 60,
# seeds 0-59) gave, on all of FLamby's training rows, a pooled test C-index of 0.724 +- 0.150 (sd over
# seeds, range 0.33-0.85) and a mean over clients of 0.723 +- 0.154; without the search-validation rows,
# as the task trains, 0.724 +- 0.115 and 0.733 +- 0.117. Its means sit on FLamby's 0.735 / 0.732, and a
# 5-seed mean (FLamby's as ours) has an sd of 0.05-0.07 from the seeds alone. Tolerance: about 2 sd of a
# 5-seed mean, 0.13, for both figures. Per-client means are printed for context, not judged.
POOLED_TOLERANCE = 0.13
CLIENT_MEAN_TOLERANCE = 0.13


TABLE_HEADER = "seed  wall s  held-out pooled  held-out client mean  per client (site-1..6)                 search-val"


def table_row(result: dict) -> str:
    """A finished seed's row: the pooled C-index, the mean over clients and each client's, as FLamby reports them."""
    held, val = result["heldout"], result["search_val"]
    clients = " ".join(f"{held['per_site'][f'site-{k}']:.3f}" for k in range(1, 7))
    return (f"{result['seed']:4d}  {result['seconds']:6.1f}  {held['score']:.4f}           "
            f"{held['mean_over_sites']:.4f}                {clients}  {val['score']:.4f}")  # fmt: skip


def cox_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """FLamby's BaselineLoss on (time, event) rows (the task's client.py computes the same)."""
    order = torch.argsort(labels[:, 0], descending=True, stable=True)
    scores, events = scores[order], labels[order, 1]
    return ((torch.logcumsumexp(scores, dim=0) - scores) * events).mean()


def replica(seed: int, centers: list[tuple], carve: bool, data_cfg: dict) -> tuple[float, float]:
    """FLamby's FedAvg in plain torch, no NVFlare: (pooled, mean over clients) test C-index of one seed.

    Same algorithm as the task's baseline (SGD 0.1, 100 steps of batch 8 per round, 5 rounds, updates
    weighted by training rows, loaders that span rounds); ``carve`` drops the search-validation rows
    as the task does, otherwise the clients train on all of FLamby's 866 rows.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    sites = []
    for k, (x, y, _, _) in enumerate(centers):
        if carve:
            keep = ~carve_search_val(y[:, 1], data_cfg["search_val_fraction"], data_cfg["split_seed"] + k)
            x, y = x[keep], y[keep]
        sites.append((torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)))

    def stream(x: torch.Tensor, y: torch.Tensor):
        while True:
            order = torch.randperm(len(y), generator=generator)
            for start in range(0, len(y), 8):
                yield x[order[start : start + 8]], y[order[start : start + 8]]

    global_model = torch.nn.Linear(39, 1)
    models = [torch.nn.Linear(39, 1) for _ in sites]
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in models]
    streams = [stream(x, y) for x, y in sites]
    sizes = [len(y) for _, y in sites]
    for _ in range(5):
        start = {n: v.clone() for n, v in global_model.state_dict().items()}
        total = {n: torch.zeros_like(v) for n, v in start.items()}
        for model, optimizer, batches, size in zip(models, optimizers, streams, sizes, strict=True):
            model.load_state_dict(start)
            for _ in range(100):
                xb, yb = next(batches)
                optimizer.zero_grad()
                cox_loss(model(xb).squeeze(-1), yb).backward()
                optimizer.step()
            for n, v in model.state_dict().items():
                total[n] += (v - start[n]) * size
        global_model.load_state_dict({n: start[n] + total[n] / sum(sizes) for n in start})
    with torch.no_grad():
        risks = [global_model(torch.tensor(x_test, dtype=torch.float32)).squeeze(-1).double().numpy()
                 for _, _, x_test, _ in centers]  # fmt: skip
    per_client = [c_index(r, c[3]) for r, c in zip(risks, centers, strict=True)]
    pooled = c_index(np.concatenate(risks), np.concatenate([c[3] for c in centers]))
    return pooled, float(np.mean(per_client))


def replica_spread(task: Task, n_seeds: int) -> None:
    """Seed-to-seed spread of FLamby's FedAvg on this split: what a 5-seed mean may differ by."""
    torch.set_num_threads(1)
    centers = tcga_brca.load_centers(task.root / task.data["raw"], 6, {})
    print(f"\nplain-torch replica of FLamby's FedAvg (no NVFlare), seeds 0-{n_seeds - 1}, test C-index:")
    for carve, label in ((False, "all 866 training rows (FLamby)"), (True, "without the search-val rows (task)")):
        values = np.array([replica(seed, centers, carve, task.data) for seed in range(n_seeds)])
        for column, name in ((0, "pooled"), (1, "mean over clients")):
            v = values[:, column]
            print(f"  {label:36s} {name:18s} mean {v.mean():.3f}  sd {v.std(ddof=1):.3f}  "
                  f"range {v.min():.3f}-{v.max():.3f}  sd of a 5-seed mean {v.std(ddof=1) / 5**0.5:.3f}")  # fmt: skip


def main(
    seeds: list[int] | None, rounds: int | None, keep: Path | None, replica_seeds: int, simulate_runs: bool
) -> None:
    task = Task.load(REPO / "flcampaign" / "tasks" / "tcga_brca", num_rounds=rounds)
    if simulate_runs:
        simulated(task, seeds, keep)
    if replica_seeds:
        replica_spread(task, replica_seeds)


def simulated(task: Task, seeds: list[int] | None, keep: Path | None) -> None:
    seeds = seeds or task.seeds["repeat"]
    sandbox = choose("auto")
    with scratch(keep, "flc-tcga-bench-") as root:
        rows, _ = prepare_splits(task, root)
        try:
            validation = set_up(task, root)
        except ValueError as error:
            raise SystemExit(str(error)) from None
        print(header(task, sandbox, "Fed-TCGA-BRCA", "below FLamby's budget, not comparable"))
        print(f"rows: {rows} (FLamby trains on train + search_val = 866 and tests on the 222 held-out rows)")
        results = finished(seed_table(task, root, validation, seeds, sandbox, TABLE_HEADER, table_row))
    if not results:
        raise SystemExit("no seed finished")
    pooled, site_mean = summary(results, "score"), summary(results, "mean_over_sites")
    cells = describe([v for r in results for v in r["heldout"]["per_site"].values()])
    per_client = [statistics.fmean(r["heldout"]["per_site"][f"site-{k}"] for r in results) for k in range(1, 7)]
    print(f"\nmedian {median_seconds(results):.0f} s per seed (simulation + two scorings)")
    ours_pooled = f"{pooled['mean']:.4f} +- {pooled['sd']:.4f} (sd, {pooled['n']} seeds)"
    ours_cells = f"{cells['mean']:.4f} +- {cells['sd']:.4f} (sd, {cells['n']} values)"
    print(f"{'':26s}{'ours':35s}{'FLamby FedAvg':16s}difference")
    print(f"{'pooled test C-index':26s}{ours_pooled:35s}{FLAMBY_POOLED:<16.3f}{pooled['mean'] - FLAMBY_POOLED:+.4f}")
    theirs_cells = f"{FLAMBY_CLIENT_MEAN:.3f} +- {FLAMBY_CLIENT_SD:.3f}"
    print(
        f"{'mean over clients x seeds':26s}{ours_cells:35s}{theirs_cells:16s}{cells['mean'] - FLAMBY_CLIENT_MEAN:+.4f}"
    )
    print(f"  (mean over clients per seed: {site_mean['mean']:.4f} +- {site_mean['sd']:.4f} sd over seeds)")
    print("per client, mean over seeds (test events):")
    for k, (ours, theirs, events) in enumerate(zip(per_client, FLAMBY_CLIENTS, TEST_EVENTS, strict=True)):
        print(f"{f'  client {k} ({events} events)':26s}{ours:<35.4f}{theirs:<16.3f}{ours - theirs:+.4f}")
    pooled_ok = abs(pooled["mean"] - FLAMBY_POOLED) <= POOLED_TOLERANCE
    mean_ok = abs(cells["mean"] - FLAMBY_CLIENT_MEAN) <= CLIENT_MEAN_TOLERANCE
    print(f"tolerance: pooled within +-{POOLED_TOLERANCE} ({'yes' if pooled_ok else 'NO'}), "
          f"mean over clients x seeds within +-{CLIENT_MEAN_TOLERANCE} ({'yes' if mean_ok else 'NO'})")  # fmt: skip
    print("  why: FedAvg at lr 0.1 on raw covariates is seed-sensitive (replica: pooled sd 0.12-0.15 over seeds, so")
    print("  a 5-seed mean has sd 0.05-0.07, FLamby's as ours); 32 test events pooled, 14/4/8/3/2/1 per client.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the profile's repeat seeds (42-46)")
    parser.add_argument("--rounds", type=int, help="shorten the budget openly (default: the profile's 5 rounds)")
    parser.add_argument("--keep", type=Path, help="keep the artifacts in this folder")
    parser.add_argument("--replica-seeds", type=int, default=0, help="also run the plain-torch replica on N seeds")
    parser.add_argument("--replica-only", action="store_true", help="skip the NVFlare simulations")
    args = parser.parse_args()
    main(args.seeds, args.rounds, args.keep, args.replica_seeds, not args.replica_only)
