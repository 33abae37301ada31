"""The campaign order: where each candidate and literature event stands, fixed when the ledger first sees it.

A candidate's ``created`` stamp is written by whoever made the folder, so on its own it could move a
new candidate in front of the ones already recorded (and make a back-dated folder "the" baseline).
The ledger therefore keeps ``results/order.json``: the first time it sees an entry it places it at
its ``created`` stamp, but never before anything it had already recorded and never after the moment
it arrived (a stamp in the future is re-stamped to then). Entries seen in the same build keep their
stamps' order; a place, once given, never moves.
"""

from datetime import UTC, datetime
from pathlib import Path

from flcampaign.files import read_json, write_json
from flcampaign.layout import Records


def moment(stamp: str) -> datetime:
    """A timezone-aware time (naive times count as UTC); unknown ones last."""
    try:
        value = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return datetime.max.replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def place(
    recorded: dict[str, dict], created: dict[str, str], now: datetime
) -> tuple[dict[str, dict], dict[str, tuple[datetime, int]]]:
    """(the updated record, each entry's sort key) for the entries with their ``created`` stamps.

    ``recorded`` maps an id to ``{"at": ISO time, "build": n}`` from earlier builds."""
    recorded = dict(recorded)
    build = 1 + max((entry.get("build", 0) for entry in recorded.values()), default=0)
    floor = max((moment(entry["at"]) for entry in recorded.values()), default=None)
    for cid in sorted(set(created) - set(recorded), key=lambda cid: (moment(created[cid]), cid)):
        at = min(moment(created[cid]), now)
        if floor is not None:
            at = max(at, floor)
        recorded[cid] = {"at": at.isoformat(timespec="milliseconds"), "build": build}
    keys = {cid: (moment(recorded[cid]["at"]), recorded[cid]["build"]) for cid in created}
    return recorded, keys


def campaign_order(results: Path, created: dict[str, str], record: bool = True) -> dict[str, tuple[datetime, int]]:
    """Sort keys of the entries (id -> created stamp), placing newcomers in ``results/order.json``.

    ``record=False`` reads the places without writing (``flcampaign verify``)."""
    path = Records(Path(results)).order
    recorded = read_json(path) if path.is_file() else {}
    updated, keys = place(recorded, created, datetime.now(UTC))
    if record and updated != recorded:
        write_json(path, updated)
    return keys
