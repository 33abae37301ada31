"""The candidate tree's layout and the tree, shrinkage and control-arm plots, from a scripted ledger and evidence."""

from pathlib import Path

import matplotlib.colors
import matplotlib.image
import matplotlib.pyplot as plt
import pytest
from test_report import png_size

from flcampaign.records import Status, ledger_row
from flcampaign.reporting import plot
from flcampaign.reporting.lineage import lineage
from flcampaign.reporting.plot import (
    ARM_COLORS,
    FAILED,
    LITERATURE,
    SHRINKAGE_STAGES,
    control_arms_plot,
    lineage_plot,
    shrinkage_plot,
)


def row(order: int, cid: str, status: str, parent: str = "baseline", score: float | None = None, **cells) -> dict:
    return ledger_row(order=order, candidate=cid, parent=parent, status=status, score=score, **cells)


def event(order: int, eid: str, title: str = "review") -> dict:
    return ledger_row(order=order, candidate=eid, status="literature", literature_event=eid, description=title)


@pytest.fixture
def branching() -> list[dict]:
    """A kept line b0 -> c2 -> c3 with a failure below it, a literature event, and parents the ledger does not
    hold: an unknown id, the candidate itself, and a later candidate (which names the first as its parent)."""
    return [
        row(1, "b0", "baseline", score=0.70),
        row(2, "c1", "discard", score=0.68),
        row(3, "c2", "keep", parent="b0", score=0.75),
        event(4, "lit-0001"),
        row(5, "c3", "keep", parent="c2", score=0.78, literature_event="lit-0001"),
        row(6, "c4", "crash", parent="c3", literature_event="lit-0001"),
        row(7, "c5", "discard", parent="9999-gone", score=0.60),
        row(8, "c6", "invalid", parent="c6"),
        row(9, "c7", "discard", parent="c8", score=0.65),
        row(10, "c8", "discard", parent="c7", score=0.66),
    ]


def test_lineage_resolves_parents_depths_and_the_incumbent_chain(branching):
    tree = lineage(branching)
    nodes = {node.candidate: node for node in tree.nodes}
    assert list(nodes) == ["b0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"]  # campaign order, no event
    assert {cid: node.parent for cid, node in nodes.items()} == {
        "b0": None,
        "c1": "b0",
        "c2": "b0",
        "c3": "c2",
        "c4": "c3",
        "c5": "b0",
        "c6": "b0",
        "c7": "b0",
        "c8": "c7",
    }
    assert {cid for cid, node in nodes.items() if node.adopted} == {"c5", "c6", "c7"}
    assert {cid: node.depth for cid, node in nodes.items()} == {
        "b0": 0, "c1": 1, "c2": 1, "c3": 2, "c4": 3, "c5": 1, "c6": 1, "c7": 1, "c8": 2,
    }  # fmt: skip
    assert all(node.x == node.depth for node in tree.nodes)
    assert tree.edges == [(node.parent, node.candidate) for node in tree.nodes if node.parent is not None]
    assert [cid for cid, node in nodes.items() if node.incumbent] == ["b0", "c2", "c3"]
    assert tree.chain_edges == [("b0", "c2"), ("c2", "c3")]
    assert {cid for cid, node in nodes.items() if node.literature_event} == {"c3", "c4"}
    assert tree.events == [{"id": "lit-0001", "order": 4, "description": "review"}]
    assert nodes["c4"].status is Status.CRASH and nodes["c4"].score is None and nodes["c3"].order == 5


def test_lineage_spreads_leaves_and_centres_parents(branching):
    """Leaves one apart in campaign order (depth first), each parent midway between its first and last child."""
    y = {node.candidate: node.y for node in lineage(branching).nodes}
    assert {cid: y[cid] for cid in ("c1", "c4", "c5", "c6", "c8")} == {"c1": 0, "c4": 1, "c5": 2, "c6": 3, "c8": 4}
    assert y["c3"] == y["c2"] == 1 and y["c7"] == 4
    assert y["b0"] == 2  # between c1 (0) and c7 (4)


def test_lineage_of_a_baseline_only_an_empty_and_a_baseline_less_campaign():
    alone = lineage([row(1, "b0", "baseline", score=0.7)])
    assert [(n.candidate, n.parent, n.depth, n.y, n.incumbent) for n in alone.nodes] == [("b0", None, 0, 0, True)]
    assert alone.edges == alone.chain_edges == alone.events == []
    empty = lineage([])
    assert empty.nodes == empty.edges == empty.events == []
    crashed = lineage([row(1, "b0", "crash", kind="baseline"), row(2, "c1", "discard", score=0.6)])
    assert [(n.candidate, n.parent, n.incumbent) for n in crashed.nodes] == [("b0", None, False), ("c1", "b0", False)]
    refused_event = ledger_row(order=2, candidate="lit-0001", status="invalid", kind="literature")
    orphans = lineage([row(1, "c1", "discard", score=0.6), refused_event, row(3, "c2", "keep", parent="c1")])
    assert [(n.candidate, n.parent, n.depth) for n in orphans.nodes] == [("c1", None, 0), ("c2", "c1", 1)]


def test_lineage_lays_out_a_chain_deeper_than_the_recursion_limit():
    rows = [row(1, "c0", "baseline", score=0.5)]
    rows += [row(i + 1, f"c{i}", "discard", parent=f"c{i - 1}", score=0.4) for i in range(1, 3000)]
    deepest = lineage(rows).nodes[-1]
    assert (deepest.depth, deepest.parent, deepest.y) == (2999, "c2998", 0)


def pixels(path: Path, colour: str) -> int:
    """How many pixels of the PNG are (nearly) the colour."""
    image = matplotlib.image.imread(path)[..., :3]
    return int((abs(image - matplotlib.colors.to_rgb(colour)).max(axis=-1) < 0.03).sum())


@pytest.fixture
def drawn(monkeypatch) -> list[plt.Figure]:
    """The figures the plots draw, kept instead of saved, to read what they hold."""
    figures: list[plt.Figure] = []
    monkeypatch.setattr(plot, "save", lambda fig, out: figures.append(fig))
    yield figures
    for fig in figures:
        plt.close(fig)


def test_lineage_plot_rings_the_literature_members_and_marks_failures(branching, tmp_path):
    out = tmp_path / "lineage.png"
    lineage_plot(branching, out)
    assert png_size(out) == (2400, 1200)
    assert [p.name for p in tmp_path.iterdir()] == ["lineage.png"]
    assert pixels(out, LITERATURE) > 100 and pixels(out, FAILED["crash"]["color"]) > 20
    without = [dict(r, literature_event="") for r in branching if r["status"] is not Status.LITERATURE]
    lineage_plot(without, out)
    assert pixels(out, LITERATURE) == 0


def test_lineage_plot_names_every_candidate_then_only_incumbents_and_failures(branching, drawn):
    lineage_plot(branching, Path("unused.png"))
    ax = drawn[-1].axes[0]
    assert sorted(text.get_text().split()[0] for text in ax.texts) == ["b0", *(f"c{i}" for i in range(1, 9))]
    legend = {text.get_text() for text in ax.get_legend().get_texts()}
    assert {"baseline (1)", "keep (2)", "discard (4)", "crash (1)", "invalid (1)", "lit-0001 (2): review"} <= legend
    assert "parent not in the ledger: hung from the baseline" in legend
    large = [row(1, "b0", "baseline", score=0.5)]
    large += [row(i + 1, f"c{i}", "crash" if i % 10 == 0 else "discard", score=None) for i in range(1, 70)]
    lineage_plot(large, Path("unused.png"))
    named = {text.get_text().split()[0] for text in drawn[-1].axes[0].texts}
    assert named == {"b0", *(f"c{i}" for i in range(10, 70, 10))}
    crowded = [row(1, "b0", "baseline", score=0.5)]
    crowded += [row(i + 1, f"c{i}", "crash" if i % 2 else "discard", score=None) for i in range(1, 100)]
    lineage_plot(crowded, Path("unused.png"))  # 50 failures: their names would overlap, their markers do not
    assert {text.get_text().split()[0] for text in drawn[-1].axes[0].texts} == {"b0"}


def test_lineage_plot_of_a_baseline_only_and_an_empty_campaign(tmp_path, drawn):
    for rows in ([row(1, "b0", "baseline", score=0.7)], []):
        lineage_plot(rows, tmp_path / "unused.png")
    assert [text.get_text() for text in drawn[0].axes[0].texts] == ["b0  0.7000"]
    assert [text.get_text() for text in drawn[1].axes[0].texts] == ["no candidates yet"]


def summary(mean: float, low: float, high: float, n: int = 5, **more) -> dict:
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": n} | more


@pytest.fixture
def evidence() -> dict:
    """Two winners and the best control as winners.json holds them: the control was not raced."""
    return {
        "entries": [
            {
                "candidate": "0002-fedavgm",
                "role": "winner",
                "attribution": "repeat-supported FL-recipe gain",
                "search_gain": 0.0928,
                "race_gain": summary(0.035, -0.008, 0.078),
                "repeat": summary(0.031, -0.028, 0.090, confirmed=False),
                "heldout_vs_baseline": summary(0.038, 0.014, 0.061, confirmed=True),
            },
            {
                "candidate": "0005-fedadam",
                "role": "winner",
                "attribution": "selected-run artifact",
                "search_gain": 0.0825,
                "race_gain": summary(0.035, -0.002, 0.072),
                "repeat": summary(0.020, -0.002, 0.041, n=10),
                "heldout_vs_baseline": summary(0.015, -0.005, 0.035, n=10),
            },
            {
                "candidate": "_ctl-best",
                "role": "best control",
                "attribution": "",
                "search_gain": 0.0928,
                "race_gain": None,
                "repeat": summary(-0.091, -0.267, 0.086),
                "heldout_vs_baseline": summary(-0.103, -0.228, 0.022),
            },
        ]
    }


def test_shrinkage_plot_draws_every_stage(evidence, heart_task, tmp_path):
    out = tmp_path / "shrinkage.png"
    shrinkage_plot(evidence, heart_task, out)
    assert png_size(out) == (1800, 1200)
    assert all(pixels(out, colour) > 100 for _, _, colour in SHRINKAGE_STAGES)
    shrinkage_plot({"entries": []}, heart_task, out)
    assert png_size(out) == (1800, 1200)
    assert all(pixels(out, colour) == 0 for _, _, colour in SHRINKAGE_STAGES[1:])  # the first is a grey, as text


def test_shrinkage_plot_rows_and_missing_stages(evidence, heart_task, drawn):
    evidence["entries"][1].update(search_gain=None, heldout_vs_baseline=None, repeat=summary(0.02, None, None, n=1))
    shrinkage_plot(evidence, heart_task, Path("unused.png"))
    ax = drawn[-1].axes[0]
    ticks = [tick.get_text() for tick in ax.get_yticklabels()]
    assert len(ticks) == 3 * 5
    assert ticks[:5] == [
        "0002-fedavgm (winner):\nrepeat-supported FL-recipe gain",
        "the search run that selected it",
        "race on the search seeds, 5 seeds",
        "repeat, search-validation, 5 seeds",
        "repeat, held-out, 5 seeds",
    ]
    assert ticks[10:12] == ["_ctl-best (best control)", "the search run that selected it"]
    assert [tick.get_fontweight() for tick in ax.get_yticklabels()][::5] == ["bold"] * 3
    notes = [text.get_text() for text in ax.texts]
    assert notes.count("n/a") == 3  # fedadam's search run and held-out, the control's race
    assert "+0.0380, confirmed" in notes and "+0.0200" in notes  # a mean without an interval is still drawn
    assert ax.get_xlabel() == "gain over the baseline (accuracy, positive = better)"
    shrinkage_plot({"entries": []}, heart_task, Path("unused.png"))
    assert [text.get_text() for text in drawn[-1].axes[0].texts] == ["no winners"]


def arms_rows() -> list[dict]:
    return [
        row(1, "b0", "baseline", score=0.70),
        row(2, "c1", "discard", score=0.68),
        row(3, "c2", "crash"),
        row(4, "c3", "invalid"),  # refused before running: not a run of the agent's
        row(5, "c4", "keep", score=0.74),
    ]


def arms_evidence() -> dict:
    random = [0.66, 0.71, None, 0.80]
    tpe = [0.69, 0.72, 0.75, 0.73]
    controls = [{"id": f"_ctl-{i:03d}", "arm": "random", "search_score": s} for i, s in enumerate(random)]
    controls += [{"id": f"_tpe-{i:03d}", "arm": "tpe", "search_score": s} for i, s in enumerate(tpe)]
    return {"controls": controls, "baseline_search_score": 0.70}


def test_control_arms_plot_shows_each_arms_spread(heart_task, tmp_path, drawn):
    control_arms_plot(arms_rows(), arms_evidence(), heart_task, Path("unused.png"))
    curves, spread = drawn[-1].axes
    assert [tick.get_text() for tick in spread.get_xticklabels()] == [
        "agent\n3 runs\n1 failed",
        "random\n4 runs\n1 failed",
        "tpe\n4 runs",
    ]
    assert curves.get_shared_y_axes().joined(curves, spread)
    assert spread.bbox.width < curves.bbox.width / 2
    dots = [collection.get_offsets() for collection in spread.collections]
    assert sorted(len(points) for points in dots) == [2, 3, 4]  # the scored runs of each arm
    control_arms_plot(arms_rows(), {"controls": []}, heart_task, Path("unused.png"))
    assert [tick.get_text() for tick in drawn[-1].axes[1].get_xticklabels()] == ["agent\n3 runs\n1 failed"]


def test_control_arms_plot_size_and_colours(heart_task, tmp_path):
    out = tmp_path / "control_arms.png"
    control_arms_plot(arms_rows(), arms_evidence(), heart_task, out)
    assert png_size(out) == (1800, 900)
    assert all(pixels(out, colour) > 100 for colour in ARM_COLORS.values())
    control_arms_plot([], None, heart_task, out)
    assert png_size(out) == (1800, 900)
    assert pixels(out, ARM_COLORS["tpe"]) == 0
