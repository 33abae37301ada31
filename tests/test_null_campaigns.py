"""A/A campaigns through the real workflow (evidence.null_campaigns): null candidates pass the contract and
change only the initialisation and data-order seeds; campaigns get seeds of their own; one real campaign at
one round runs through the race, repeats, held-out and attribution and is tallied."""

import pytest
from conftest import REPO

from flcampaign.contract.validation import validate_candidate
from flcampaign.evidence import null_campaigns
from flcampaign.evidence.stats import ATTRIBUTIONS
from flcampaign.files import read_yaml
from flcampaign.records import Status

BASELINE = REPO / "candidates" / null_campaigns.BASELINE_ID
CONFIG = {
    "num_rounds": 1,
    "selection": {"top_k": 1, "racing": {"contenders": 2, "seeds": [1], "batch": 1}},
    "repeats": {"seeds": [42, 43]},
    "controls": {"n": 0},
}


def test_a_null_patch_shifts_only_the_initialisation_and_data_order_seeds(heart_task):
    patch = null_campaigns.null_patch(heart_task, 7)
    headers = [line for line in patch.splitlines() if line.startswith(("+++", "---"))]
    assert headers == ["--- a/model.py", "+++ b/model.py", "--- a/client.py", "+++ b/client.py"]
    changed = [line[0] + line[1:].strip() for line in patch.splitlines() if line[:1] in "+-" and line not in headers]
    assert changed == [
        "-" + null_campaigns.INIT_SEED,
        "+" + null_campaigns.INIT_SEED[:-1] + " + 7)",
        "-" + null_campaigns.DATA_ORDER_SEED,
        "+" + null_campaigns.DATA_ORDER_SEED[:-1] + " + 7)",
    ]


def test_null_candidates_pass_the_contract_and_campaigns_get_seeds_of_their_own(heart_task, tmp_path):
    first = null_campaigns.write_campaign(tmp_path / "a", BASELINE, heart_task, 0, 2, CONFIG)
    second = null_campaigns.write_campaign(tmp_path / "b", BASELINE, heart_task, 1, 2, CONFIG)
    ids = sorted(p.name for p in first.candidates.iterdir())
    assert ids == ["0000-baseline", "0001-null-1", "0002-null-2"]
    assert sorted(p.name for p in second.candidates.iterdir())[1:] == ["0001-null-3", "0002-null-4"]
    for cid in ids:
        record = validate_candidate(first.candidates, cid, heart_task, tmp_path / "results")
        assert record["state"] == "ok", record
    configs = [read_yaml(c.config) for c in (first, second)]
    repeat_seeds = [set(c["repeats"]["seeds"]) for c in configs]
    race_seeds = [set(c["selection"]["racing"]["seeds"]) for c in configs]
    assert len(repeat_seeds[0]) == 2 and not repeat_seeds[0] & repeat_seeds[1]
    assert len(race_seeds[0]) == 1 and not race_seeds[0] & race_seeds[1]
    assert not (repeat_seeds[0] | race_seeds[0]) & {0}
    assert configs[0]["controls"] == {"n": 0} and configs[0]["selection"]["top_k"] == 1


def test_a_task_without_the_seed_line_is_refused(heart_task, tmp_path, monkeypatch):
    monkeypatch.setattr(null_campaigns, "DATA_ORDER_SEED", "no such line")
    with pytest.raises(ValueError, match="client.py has no seed line"):
        null_campaigns.null_patch(heart_task, 1)


@pytest.mark.slow
def test_a_null_campaign_runs_through_the_workflow_and_is_tallied(heart_task, tmp_path):
    lines: list[str] = []
    result = null_campaigns.run_campaigns(
        tmp_path,
        heart_task,
        BASELINE,
        1,
        2,
        CONFIG,
        lambda folder: null_campaigns.snakemake_in(folder, REPO / "profiles" / "local"),
        progress=lines.append,
    )
    assert result["campaigns"] == 1 and len(lines) == 1 and lines[0].startswith("[1/1] null-000")
    (campaign,) = result["per_campaign"]
    assert campaign["winners"] and set(campaign["winners"].values()) <= set(ATTRIBUTIONS)
    assert campaign["called_a_gain"] == any(a in null_campaigns.GAINS for a in campaign["winners"].values())
    assert sum(result["attributions"].values()) == len(campaign["winners"])
    rows = (tmp_path / "null-000" / "results" / "results.tsv").read_text().splitlines()
    statuses = {line.split("\t")[1]: line.split("\t")[3] for line in rows[1:]}
    assert statuses["0000-baseline"] == Status.BASELINE and len(statuses) == 3
    assert (tmp_path / "null-000" / "results" / "race" / "step1.json").is_file()
    again = null_campaigns.run_campaigns(
        tmp_path, heart_task, BASELINE, 1, 2, CONFIG, lambda folder: pytest.fail("a finished campaign re-ran")
    )
    assert again["per_campaign"] == result["per_campaign"]
