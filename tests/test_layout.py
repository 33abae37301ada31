"""One definition of where a campaign's files live, used by the workflow, the library and the CLI."""

from pathlib import Path

from flcampaign.layout import Campaign, Records


def test_paths_are_relative_in_the_campaign_folder_and_take_wildcards():
    records = Campaign().records
    assert records.validation("{candidate}") == Path("results/candidates/{candidate}/validation.json")
    assert records.run_record("repeat", "c1", 42) == Path("results/runs/repeat/c1/seed42/run.json")
    assert records.heldout_record("c1", "{seed}") == Path("results/runs/repeat/c1/seed{seed}/heldout.json")
    assert records.scalar_candidate("_ctl-001") == Path("results/controls/ctl-001")
    assert Campaign().report_pdf == Path("reports/report.pdf") and Campaign().candidates == Path("candidates")


def test_another_folder_gets_the_same_paths_below_it(tmp_path):
    campaign = Campaign(tmp_path)
    assert campaign.records.ledger == tmp_path / "results" / "results.tsv"
    assert campaign.drafts == tmp_path / "drafts"


def test_artifacts_are_named_from_the_campaign_folder_whatever_the_working_directory(tmp_path):
    for records in (Records(Path("results")), Records(tmp_path / "results"), Records(tmp_path / "x" / "results")):
        assert records.artifact(records.run_dir("search", "c1", 0)) == "results/runs/search/c1/seed0"
