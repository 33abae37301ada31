"""Trusted loaders that turn a task's raw files into per-site train / search-validation / held-out splits."""

import re
from pathlib import Path


def sources_sha256(raw_dir: Path, name_pattern: str) -> dict[str, str]:
    """File name -> sha256 from the rows of ``SOURCES.md``'s tables whose first cell matches ``name_pattern``.

    A shipped data folder lists every file with its hash there, so the loader can refuse a changed copy.
    """
    row = re.compile(rf"^\|\s*({name_pattern})\s*\|.*\|\s*([0-9a-f]{{64}})\s*\|$")
    hashes = {}
    for line in (Path(raw_dir) / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        match = row.match(line.strip())
        if match:
            hashes[match.group(1)] = match.group(2)
    return hashes
