"""A/A campaigns through the real workflow: the bundled task's baseline and null candidates (each only
shifts the clients' data-order seed) through validation, simulation, the race, repeats, held-out and
attribution, as `make run` runs a campaign. Prints, after every campaign, its winners' attributions
and the running rate at which a campaign called a null a gain; at the end that rate with its Wilson
interval (the target: at most 0.05). Controls are off (they can only turn a confirmed gain into a
tuning effect). Finished campaigns under OUT are not run again: a second call resumes.

Usage: python bench/null_campaigns.py OUT [campaigns] [nulls per campaign] [rounds]
"""

import sys
from pathlib import Path

from flcampaign.evidence import null_campaigns
from flcampaign.files import write_json
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    out = Path(sys.argv[1]).resolve()
    n_campaigns = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    n_nulls = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else None
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease", num_rounds=rounds)
    config = {"num_rounds": rounds, "selection": {"top_k": 2}, "controls": {"n": 0}}
    result = null_campaigns.run_campaigns(
        out,
        task,
        REPO / "candidates" / null_campaigns.BASELINE_ID,
        n_campaigns,
        n_nulls,
        config,
        lambda folder: null_campaigns.snakemake_in(folder, REPO / "profiles" / "local"),
        progress=lambda line: print(line, flush=True),
    )
    write_json(out / "aa.json", result)
    print(null_campaigns.render(result))
