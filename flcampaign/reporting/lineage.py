"""The campaign's candidate tree, laid out once as plain data, so the report's PNG and the interactive dashboard
draw the same tree at the same positions."""

from dataclasses import dataclass

from flcampaign.contract.candidate import BASE_PARENT
from flcampaign.records import Status

LABELLED_TREE = 60  # up to this many candidates every node is named; beyond, the incumbents and failures
LABELLED_FAILURES = 40  # beyond this many failures, only the incumbents are named (the markers still show each)


@dataclass(frozen=True)
class Node:
    """A candidate placed in the tree.

    ``adopted``: the ledger names a parent that is not an earlier candidate of the ledger (an unknown id, a
    literature event, a later candidate, the candidate itself), so the node hangs from the baseline instead (a root
    when the ledger holds no baseline); a parent is only ever earlier in campaign order, so the tree has no cycle."""

    candidate: str
    parent: str | None  # the parent's id (the alias "baseline" resolved to the baseline's id); None for a root
    status: Status
    score: float | None
    order: int  # campaign order (the ledger's "order")
    depth: int  # generations from the baseline
    x: float  # the depth
    y: float  # leaves one apart from 0 downwards in campaign order, a parent centred on its children
    incumbent: bool  # on the incumbent chain: the baseline and every kept candidate
    literature_event: str  # "" or the literature event the candidate came from
    adopted: bool


@dataclass(frozen=True)
class Lineage:
    nodes: list[Node]  # in campaign order
    edges: list[tuple[str, str]]  # (parent, child) in the child's campaign order
    events: list[dict]  # literature events: id, order, description

    @property
    def chain_edges(self) -> list[tuple[str, str]]:
        """The edges from an incumbent to an incumbent: where the tree follows the incumbent chain."""
        incumbents = {node.candidate for node in self.nodes if node.incumbent}
        return [(parent, child) for parent, child in self.edges if parent in incumbents and child in incumbents]

    @property
    def named(self) -> set[str]:
        """The candidates a drawing of the tree names: every one of a small tree; in a larger one the incumbents,
        and the failures while they are few enough for their names not to overlap."""
        if len(self.nodes) <= LABELLED_TREE:
            return {node.candidate for node in self.nodes}
        failures = [node.candidate for node in self.nodes if node.status.failed]
        incumbents = [node.candidate for node in self.nodes if node.incumbent]
        return {*incumbents, *(failures if len(failures) <= LABELLED_FAILURES else [])}


def lineage(rows: list[dict]) -> Lineage:
    """The tree of a ledger's candidates: each under its declared parent, the baseline at the root. Literature
    events are listed beside the tree; a literature file the schema refused (kind ``literature``) is not a
    candidate."""
    candidates = [r for r in rows if r["status"] is not Status.LITERATURE and r.get("kind") != "literature"]
    baseline = next(
        (r["candidate"] for r in candidates if r["status"] is Status.BASELINE or r.get("kind") == "baseline"), None
    )
    parents: dict[str, str | None] = {}
    adopted: set[str] = set()
    for row in candidates:
        cid, declared = row["candidate"], row["parent"]
        if cid == baseline:
            parents[cid] = None
        elif declared in parents or declared in (BASE_PARENT, baseline):
            parents[cid] = baseline if declared == BASE_PARENT else declared
        else:
            parents[cid] = baseline
            adopted.add(cid)
    children: dict[str | None, list[str]] = {}
    for cid, parent in parents.items():
        children.setdefault(parent, []).append(cid)
    depth: dict[str, int] = {}
    y: dict[str, float] = {}
    leaves = 0
    stack = [(root, False) for root in reversed(children.get(None, []))]
    while stack:  # depth first without recursion, so a chain of any length is laid out
        cid, laid_out_below = stack.pop()
        kids = children.get(cid, [])
        if laid_out_below:
            y[cid] = (y[kids[0]] + y[kids[-1]]) / 2
            continue
        parent = parents[cid]
        depth[cid] = 0 if parent is None else depth[parent] + 1
        if kids:
            stack.append((cid, True))
            stack.extend((kid, False) for kid in reversed(kids))
        else:
            y[cid], leaves = float(leaves), leaves + 1
    nodes = [
        Node(
            candidate=r["candidate"],
            parent=parents[r["candidate"]],
            status=r["status"],
            score=r["score"],
            order=r["order"],
            depth=depth[r["candidate"]],
            x=float(depth[r["candidate"]]),
            y=y[r["candidate"]],
            incumbent=r["status"].incumbent,
            literature_event=r["literature_event"],
            adopted=r["candidate"] in adopted,
        )
        for r in candidates
    ]
    edges = [(node.parent, node.candidate) for node in nodes if node.parent is not None]
    events = [
        {"id": r["candidate"], "order": r["order"], "description": r["description"]}
        for r in rows
        if r["status"] is Status.LITERATURE
    ]
    return Lineage(nodes, edges, events)
