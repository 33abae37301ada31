"""The records between stages: statuses and their groups, the typed ledger row, record constructors and schemas."""

import random

import jsonschema
import pytest

from flcampaign.evidence.ledger import read_tsv, to_tsv
from flcampaign.layout import PHASES
from flcampaign.records import (
    EMPTY_ROW,
    LEDGER_COLUMNS,
    MAX_LEDGER_CELL,
    NUMBER_CELLS,
    STATUSES,
    Status,
    finish,
    format_row,
    ledger_row,
    parse_row,
    rounded,
    run_record,
    score_record,
    validation_record,
)
from flcampaign.schemas import schema_errors, validator

HASH = "a" * 64


def test_status_groups_partition_the_statuses():
    assert {s for s in STATUSES if s.scored} == {Status.BASELINE, Status.KEEP, Status.DISCARD}
    assert {s for s in STATUSES if s.compared} == {Status.KEEP, Status.DISCARD}
    assert {s for s in STATUSES if s.incumbent} == {Status.BASELINE, Status.KEEP}
    assert {s for s in STATUSES if s.failed} == {Status.CRASH, Status.TIMEOUT, Status.INVALID}
    assert {s for s in STATUSES if s.hard_failure} == {Status.CRASH, Status.TIMEOUT}
    assert {s for s in STATUSES if s.attempt} == {s for s in STATUSES if s.compared or s.failed}
    assert not Status.LITERATURE.scored and not Status.LITERATURE.failed and not Status.LITERATURE.attempt


def test_a_row_read_back_equals_the_row_written(tmp_path):
    """Typed rows survive the TSV at the ledger's precision: no reader has to convert a cell."""
    rng = random.Random(7)
    rows = []
    for order in range(1, 200):
        status = rng.choice(STATUSES)
        score = rounded(rng.uniform(-1e3, 1e3), "score") if status.scored else None
        rows.append(
            ledger_row(
                order=order,
                candidate=f"c{order}",
                status=status,
                score=score,
                runtime_seconds=rounded(rng.uniform(0, 1e4), "runtime_seconds"),
                compute_ratio=rounded(rng.random() * 3, "compute_ratio") if order % 3 else None,
                best_so_far=score,
                seed=0,
                description='tab\there, quote " and | bar',
            )
        )
    path = tmp_path / "results.tsv"
    path.write_text(to_tsv(rows))
    back = read_tsv(path)
    assert back == rows
    assert all(isinstance(row["status"], Status) for row in back)
    assert all(row["score"] is None or isinstance(row["score"], float) for row in back)
    assert format_row(back[0]).keys() == set(LEDGER_COLUMNS)


def test_format_row_keeps_the_ledgers_digits():
    cells = format_row(ledger_row(status="keep", score=0.5, runtime_seconds=12.5, order=3))
    assert (cells["score"], cells["runtime_seconds"], cells["order"], cells["gpu_seconds"]) == (
        "0.500000",
        "12.500",
        "3",
        "",
    )
    assert set(NUMBER_CELLS) <= set(LEDGER_COLUMNS) and EMPTY_ROW["description"] == ""
    assert parse_row(cells)["status"] is Status.KEEP


@pytest.mark.parametrize("kind", ["validation", "run", "score"])
def test_record_schemas_are_valid_schemas(kind):
    jsonschema.Draft202012Validator.check_schema(validator(kind).schema)


@pytest.mark.parametrize("kind", ["run", "score"])
def test_record_schemas_name_every_phase_of_the_layout(kind):
    """A phase added to the layout (the race's, say) is a phase its records may carry."""
    assert validator(kind).schema["properties"]["phase"]["enum"] == list(PHASES)


def test_constructed_and_finished_records_meet_their_schemas():
    validation = finish(validation_record("c1", "heart_disease", HASH, {"profile.yaml": HASH}), "ok")
    run = finish(
        run_record("c1", "search", 0, {"num_rounds": 1}, "host", {}, {"kind": "none"}), "crash", "boom", "stall"
    )
    metric = {"name": "accuracy", "direction": "max"}
    score = finish(
        score_record("c1", "search", 0, "search_val", {"kind": "none"}, metric, HASH), "skipped", "run: crash"
    )
    assert schema_errors("validation", validation) == []
    assert schema_errors("run", run) == []
    assert schema_errors("score", score) == []


def test_a_record_that_breaks_its_contract_is_named():
    metric = {"name": "accuracy", "direction": "max"}
    ok_without_score = finish(score_record("c1", "search", 0, "search_val", {"kind": "none"}, metric, HASH), "ok")
    assert any("score" in error for error in schema_errors("score", ok_without_score))
    run = finish(run_record("c1", "nowhere", 0, {}, "host", {}, {"kind": "chroot"}), "ok")
    errors = schema_errors("run", run)
    assert any(error.startswith("phase:") for error in errors) and any("sandbox/kind" in error for error in errors)
    with pytest.raises(ValueError):
        finish(validation_record("c1", "t", HASH, {}), "half-done")


def test_no_ledger_cell_passes_what_readers_read(tmp_path):
    """A schema-valid candidate can still put megabytes into a row (a failure reason, many sources); the writer cuts
    every text cell to MAX_LEDGER_CELL, so csv readers (field limit 131,072) read the ledger back."""
    huge = "x" * 5_000_000
    row = ledger_row(order=1, candidate="c1", status="invalid", description=huge, sources=huge, failure_reason="ok")
    cells = format_row(row)
    assert len(cells["description"]) == MAX_LEDGER_CELL and cells["description"].endswith(
        f"[{5_000_000 - MAX_LEDGER_CELL} more characters in the records]"
    )
    assert cells["failure_reason"] == "ok"
    ledger = tmp_path / "results.tsv"
    ledger.write_text(to_tsv([row]), encoding="utf-8")
    (back,) = read_tsv(ledger)
    assert back["description"] == cells["description"] and back["sources"] == cells["sources"]


@pytest.mark.parametrize(
    "field",
    [
        {"literature": [{"ref": "r" * 301}]},
        {"literature": [{"ref": "r", "note": "n" * 2001}]},
        {"literature": [{"ref": f"r{i}"} for i in range(21)]},
        {"family": "f" * 65},
        {"args": {"lr": "x" * 201}},
    ],
)
def test_free_text_of_a_candidate_is_bounded(field):
    base = {"title": "t", "hypothesis": "h", "parent": "baseline", "family": "f", "created": "2026-01-01T00:00:00Z",
            "patches": {}}  # fmt: skip
    assert schema_errors("candidate", base) == []
    assert schema_errors("candidate", base | field)


def test_a_schema_error_quotes_no_megabytes_of_the_offending_value():
    metadata = {"title": "t", "hypothesis": "h", "parent": "baseline", "literature": [{"ref": "r" * 5_000_000}]}
    [message] = [m for m in schema_errors("candidate", metadata) if m.startswith("literature/0/ref")]
    assert len(message) < 300 and "(5000002 characters) is too long" in message
