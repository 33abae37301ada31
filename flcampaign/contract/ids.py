"""One grammar for every id a ledger row or a record folder carries, so no two can collide.

Candidates are named by their folders: 1 to 64 ASCII letters, digits, ``_`` or ``-``, starting with a letter or a
digit, unique whatever the case (two folders that differ only in case are one folder on some file systems). The
workflow's own scalar candidates start with ``_`` (controls ``_ctl-``, ``_tpe-``, the best control, the compute
reference), literature events are ``lit-NNNN``, and ``baseline`` is the parent alias: a candidate may use none of
them.
"""

import re
from collections.abc import Iterable

CANDIDATE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
LITERATURE_PREFIX = "lit-"
RESERVED_NAMES = ("baseline",)  # the parent alias of candidate.yaml
RULE = "candidate-id"
REFUSED_ROW_PREFIX = "candidates/"
MAX_ROW_NAME = 200  # a refused folder's name in the ledger, escaped, is cut here


def id_problem(name: str) -> str | None:
    """Why ``name`` cannot be a candidate id, or None when it can."""
    if not CANDIDATE_ID.match(name):
        return (
            "an id is 1 to 64 ASCII letters, digits, '_' or '-', starting with a letter or a digit "
            "(no dots, spaces or other letters)"
        )
    if name.lower() in RESERVED_NAMES:
        return f"{name!r} is reserved: it is the parent alias of the campaign's baseline"
    if name.lower().startswith(LITERATURE_PREFIX):
        return f"ids starting with {LITERATURE_PREFIX!r} are reserved for literature events"
    return None


def case_duplicates(names: Iterable[str]) -> dict[str, str]:
    """Each name that equals another but for case, with one it equals: all of them, since which came
    first cannot be told from the names (two such folders are one folder on a case-insensitive disk)."""
    groups: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        groups.setdefault(name.casefold(), []).append(name)
    return {name: next(o for o in group if o != name) for group in groups.values() if len(group) > 1 for name in group}


def refused_row_id(name: str) -> str:
    """The ledger's name for a folder refused as a candidate: its path with anything unprintable escaped.

    It holds a ``/``, so it can never equal a candidate id, a workflow id or a literature event."""
    return REFUSED_ROW_PREFIX + name.encode("unicode_escape", errors="backslashreplace").decode("ascii")[:MAX_ROW_NAME]


def refused_ids(names: Iterable[str]) -> dict[str, str]:
    """Every name that cannot be a candidate id, with the reason (the grammar, a reserved name or prefix, or a
    repeat of another folder's id but for case)."""
    names = list(names)
    refused = {name: problem for name in names if (problem := id_problem(name))}
    valid = [name for name in names if name not in refused]
    for name, other in case_duplicates(valid).items():
        refused[name] = f"differs from {other} only by case: ids are unique whatever the case"
    return refused
