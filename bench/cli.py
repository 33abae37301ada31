"""Agent command latency (target: `flcampaign validate` under 1 s), as an agent calls them: new processes.

Times `validate` and `diff` on every bundled candidate, `new` + `--finish` of a one-line edit, and
`status --json` on a 1,000-row ledger, in a scratch copy of the bundled campaign.

Usage: python bench/cli.py [repetitions]
"""

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flcampaign.contract.candidate import discover
from flcampaign.evidence.ledger import to_tsv
from flcampaign.records import ledger_row

REPO = Path(__file__).resolve().parent.parent
FLCAMPAIGN = Path(sys.executable).with_name("flcampaign")
TARGET_S = 1.0


def timed(campaign: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([str(FLCAMPAIGN), *args], cwd=campaign, capture_output=True, check=False)
    return time.perf_counter() - start


def scripted_ledger(campaign: Path, rows: int) -> None:
    statuses = ["discard"] * 6 + ["keep", "crash", "invalid"]
    records = [
        ledger_row(
            order=i,
            candidate=f"{i:04d}-c",
            status="baseline" if i == 1 else statuses[i % len(statuses)],
            score=0.6 + i * 1e-4,
            kind="source_edit",
            family="fedavg",
        )
        for i in range(1, rows + 1)
    ]
    for record in records:
        if record["status"].failed:
            record["score"] = None
    (campaign / "results").mkdir(exist_ok=True)
    (campaign / "results" / "results.tsv").write_text(to_tsv(records))


def main(repetitions: int = 5) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        campaign = Path(scratch)
        shutil.copytree(REPO / "candidates", campaign / "candidates")
        shutil.copy(REPO / "config.yaml", campaign / "config.yaml")
        ids = discover(campaign / "candidates")
        results: dict[str, list[float]] = {}
        for _ in range(repetitions):
            for cid in ids:
                results.setdefault(f"validate {cid}", []).append(timed(campaign, "validate", cid))
            results.setdefault("diff 0006-fedadam-prox", []).append(timed(campaign, "diff", "0006-fedadam-prox"))
            new = timed(campaign, "new", "bench", "--parent", "0006-fedadam-prox", "--family", "bench")
            (draft,) = (campaign / "drafts").iterdir()
            meta = draft / "candidate.yaml"
            meta.write_text(meta.read_text().replace("'TODO:", "'bench:"))
            client = draft / "tree" / "client.py"
            client.write_text(client.read_text().replace("lr=args.lr)", "lr=args.lr, weight_decay=1e-4)"))
            results.setdefault("new (child of a child)", []).append(new)
            results.setdefault("new --finish", []).append(timed(campaign, "new", "--finish", draft.name))
            shutil.rmtree(campaign / "candidates" / draft.name)
        scripted_ledger(campaign, 1000)
        results["status --json (1,000 rows)"] = [timed(campaign, "status", "--json") for _ in range(repetitions)]
    print(f"agent command wall time, new process each ({repetitions} repetitions, median):")
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, value in medians.items():
        print(f"  {name:36s} {value * 1000:7.0f} ms")
    validate = [v for name, v in medians.items() if name.startswith("validate")]
    print(f"validate: median {statistics.median(validate) * 1000:.0f} ms, worst {max(validate) * 1000:.0f} ms")
    print(f"target {TARGET_S:.0f} s: worst validate / target = {max(validate) / TARGET_S:.2f}")
    print(f"slowest command: {max(medians, key=medians.get)} {max(medians.values()) / TARGET_S:.2f} of the target")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
