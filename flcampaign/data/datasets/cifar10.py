"""CIFAR-10 (Krizhevsky 2009) from the standard python archive, split over clients by Dirichlet label shares.

Archive. ``cifar-10-python.tar.gz`` (md5 ``c58f30108f718f92721af3b95e74349a``) is too large to ship,
so it is downloaded once into a cache folder (``data.options.cache_dir``, else ``$FLCAMPAIGN_CIFAR10_CACHE``,
else ``$XDG_CACHE_HOME/flcampaign/cifar10``, else ``~/.cache/flcampaign/cifar10``) by the trusted
``prepare_splits`` step, upstream of every run; clients never download (NVFlare issue #1080). Every
step that writes to the cache holds an exclusive ``fcntl.flock`` on ``<cache>/.cifar10.lock``:

- ``fetch``: an archive with the right md5 is used as it is; otherwise the archive is streamed into a
  temporary file in the cache folder, its md5 computed on the way, and only a matching file is
  renamed into place (``os.replace``). A mismatch is refused and the temporary file removed, so
  nothing unverified is ever found under the archive's name. A second caller waits on the lock,
  then finds the verified archive and does not download again.
- ``extract``: the archive is unpacked into a temporary folder (tar's ``data`` filter: no absolute
  paths, links or ``..`` escapes), checked for all six batches, marked with the archive's md5 and
  renamed to ``<cache>/cifar-10-batches-py``: readers see a complete folder or none.
- Leftover temporary files of a killed run are removed the next time the lock is taken (whoever holds
  the lock is the only writer, so they cannot belong to a live process).

Offline, copy a verified archive into the cache folder: ``fetch`` checks its md5 and uses it.

Reading. ``read_batches`` unpickles ``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` (dicts with
``b"data"``, uint8 ``(n, 3072)`` rows laid out as 1024 red, 1024 green, 1024 blue values of a 32x32
image, and ``b"labels"``, 0-9). Unpickling is trusted code here: it runs in the loader on an
md5-verified archive, never on anything a candidate wrote.

Clients. The 50,000 training images are split over ``n_sites`` clients exactly as the reference
Auto-FL example does (NVIDIA/NVFlare ``research/auto-fl-research/data/cifar10_data_split.py``): with
``numpy.random.RandomState(seed)``, per class 0..9, shuffle the class's rows, draw client shares from
Dirichlet(``alpha``), give no new rows to a client already above ``total / n_sites`` rows, cut the
shuffled rows at the cumulative shares; repeat the whole draw until every client has at least
``min_site_rows`` (10) rows; finally shuffle each client's rows. The same archive, ``alpha`` and
``seed`` give the reference's indices (the training labels are read in the same order,
``data_batch_1`` .. ``data_batch_5``, as torchvision does; the tests compare the indices with a
transcription of the reference on synthetic labels). Every training row lands in exactly one client.

Held-out rows. The reference scores the global model on the whole 10,000-image test set (on
``site-1``). Here each client's held-out split is a Dirichlet-consistent share of that test set: per
class, the class's test rows are shuffled (``numpy.random.default_rng(seed)``) and dealt to the
clients in proportion to how many training rows of that class each client holds (largest-remainder
rounding, so the shares add up exactly). A client's held-out label mix therefore follows its own
training label mix, per-site held-out scores say how the global model serves each client's
distribution, and because the shares cover every test row exactly once, the pooled held-out score
(``metric.site_aggregation: pooled``) is accuracy on the full CIFAR-10 test set, the reference's
number. The search-validation split is carved from the training rows by ``flcampaign.data.splits``, so
candidate selection never looks at the test set (the reference selects on it).

Features. float32, scaled to [0, 1], then standardised per channel with the fixed CIFAR-10 constants
of the reference (mean ``[125.3, 123.0, 113.9] / 255``, std ``[63.0, 62.1, 66.7] / 255``), flattened to
``(n, 3072)`` in the archive's channel-major order (the model reshapes to ``(n, 3, 32, 32)``). The
profile sets ``data.normalize: none``: no further per-site scaling. Labels are int64 classes 0-9.
"""

import contextlib
import fcntl
import hashlib
import http.client
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from flcampaign.files import temp_file_in

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE = "cifar-10-python.tar.gz"
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
N_CLASSES = 10
PARTITION_OPTION = "seed"  # the Dirichlet draw and the test rows' dealing: repeats may vary it
PIXELS = 3 * 32 * 32
MEAN = np.array([125.3, 123.0, 113.9], dtype=np.float32) / 255
STD = np.array([63.0, 62.1, 66.7], dtype=np.float32) / 255
CACHE_ENV = "FLCAMPAIGN_CIFAR10_CACHE"
LOCK_NAME = ".cifar10.lock"
COMPLETE_MARK = ".complete"
TEMP_PREFIXES = (".download-", ".extract-", ".stale-")
DOWNLOAD_TIMEOUT_S = 60
BLOCK = 1 << 20


class FetchError(OSError):
    """The archive could not be downloaded (network, server, disk) or failed its checksum."""


class ChecksumError(FetchError):
    """A downloaded archive whose md5 is not the expected one; it was discarded."""


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "flcampaign" / "cifar10"


def cache_dir_of(options: dict) -> Path:
    """The profile's ``cache_dir`` option (``~`` expanded), else the environment's or the default."""
    configured = options.get("cache_dir")
    return Path(configured).expanduser() if configured else default_cache_dir()


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def cache_lock(cache_dir: Path) -> Iterator[None]:
    """Exclusive lock on the cache folder (one writer at a time, across processes and threads)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / LOCK_NAME, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            _remove_leftovers(cache_dir)
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_leftovers(cache_dir: Path) -> None:
    """Temporary files and folders of a killed writer (only the lock holder writes, so none is live)."""
    for path in cache_dir.iterdir():
        if path.name.startswith(TEMP_PREFIXES):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _download(url: str, out, timeout: float) -> str:
    """Stream ``url`` into the open binary file ``out``; returns the md5 of what was written."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(BLOCK), b""):
                out.write(block)
                digest.update(block)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        raise FetchError(f"could not download {url}: {error}") from error
    return digest.hexdigest()


def fetch(cache_dir: Path, url: str = URL, md5: str = MD5, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Path of the verified archive in ``cache_dir``, downloaded (once, under the lock) when absent or wrong."""
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / ARCHIVE
    with cache_lock(cache_dir):
        if target.is_file():
            if md5_file(target) == md5:
                return target
            target.unlink()  # corrupt or another archive: fetch a verified copy instead
        fd, tmp = temp_file_in(cache_dir, prefix=".download-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                digest = _download(url, out, timeout)
                out.flush()
                os.fsync(out.fileno())
            if digest != md5:
                raise ChecksumError(
                    f"{url}: md5 of the download is {digest}, expected {md5}; the download was discarded"
                )
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        _fsync_dir(cache_dir)
    return target


def _complete(batch_dir: Path, md5: str) -> bool:
    mark = batch_dir / COMPLETE_MARK
    if not mark.is_file() or mark.read_text(encoding="utf-8").strip() != md5:
        return False
    return all((batch_dir / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH))


def extracted(cache_dir: Path, md5: str = MD5) -> Path | None:
    """The batch folder when a complete extraction of the archive with ``md5`` is in the cache."""
    batch_dir = Path(cache_dir).expanduser() / BATCH_DIR
    return batch_dir if _complete(batch_dir, md5) else None


def extract(archive: Path, cache_dir: Path, md5: str = MD5) -> Path:
    """Unpack ``archive`` into ``<cache_dir>/cifar-10-batches-py`` atomically (temporary folder, then rename)."""
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / BATCH_DIR
    with cache_lock(cache_dir):
        if _complete(target, md5):
            return target
        staging = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".extract-"))
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(staging, filter="data")
            staged = staging / BATCH_DIR
            missing = [name for name in (*TRAIN_BATCHES, TEST_BATCH) if not (staged / name).is_file()]
            if missing:
                raise ValueError(f"{archive}: no {BATCH_DIR}/{', '.join(missing)} in the archive")
            (staged / COMPLETE_MARK).write_text(md5 + "\n", encoding="utf-8")
            if target.exists() or target.is_symlink():  # incomplete or from another archive: move it aside first
                target.rename(Path(tempfile.mkdtemp(dir=cache_dir, prefix=".stale-")) / BATCH_DIR)
            staged.rename(target)
            _fsync_dir(cache_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_leftovers(cache_dir)
    return target


def ensure_batches(cache_dir: Path, url: str = URL, md5: str = MD5) -> Path:
    """The extracted batch folder of the verified archive, fetching and extracting only what is missing."""
    return extracted(cache_dir, md5) or extract(fetch(cache_dir, url, md5), cache_dir, md5)


def _field(batch: dict, name: str):
    value = batch.get(name.encode(), batch.get(name))
    if value is None:
        raise ValueError(f"batch has no {name!r} entry")
    return value


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows (uint8, (n, 3072)) and labels (int64) of one pickled CIFAR-10 batch."""
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")  # trusted: the archive's md5 was verified
    data = np.asarray(_field(batch, "data"))
    labels = np.asarray(_field(batch, "labels"), dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        raise ValueError(f"{path.name}: data is {data.dtype} {data.shape}, expected uint8 (n, {PIXELS})")
    if labels.shape != (len(data),) or (len(labels) and (labels.min() < 0 or labels.max() >= N_CLASSES)):
        raise ValueError(f"{path.name}: {labels.shape} labels for {len(data)} rows, or labels outside 0..9")
    return data, labels


def read_batches(batch_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training rows and labels (data_batch_1..5, in order) and test rows and labels (test_batch)."""
    train = [read_batch(Path(batch_dir) / name) for name in TRAIN_BATCHES]
    x_test, y_test = read_batch(Path(batch_dir) / TEST_BATCH)
    return np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test


def dirichlet_partition(
    labels: np.ndarray, n_sites: int, alpha: float, seed: int, min_site_rows: int = 10, max_draws: int = 1000
) -> list[np.ndarray]:
    """Row indices per client: the reference Auto-FL Dirichlet(alpha) label split (see the module doc)."""
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    if n_sites < 1:
        raise ValueError(f"n_sites must be >= 1, got {n_sites}")
    rng = np.random.RandomState(seed)
    total = len(labels)
    min_size, draws = 0, 0
    parts: list[list[int]] = []
    while min_size < min_site_rows:
        draws += 1
        if draws > max_draws:
            raise ValueError(f"no Dirichlet({alpha}) split of {total} rows gave every one of {n_sites} clients "
                             f"{min_site_rows} rows in {max_draws} draws")  # fmt: skip
        parts = [[] for _ in range(n_sites)]
        for k in range(N_CLASSES):
            rows = np.where(labels == k)[0]
            rng.shuffle(rows)
            shares = rng.dirichlet(np.repeat(alpha, n_sites))
            shares = np.array([p * (len(part) < total / n_sites) for p, part in zip(shares, parts, strict=True)])
            shares = shares / shares.sum()
            cuts = (np.cumsum(shares) * len(rows)).astype(int)[:-1]
            parts = [part + chunk.tolist() for part, chunk in zip(parts, np.split(rows, cuts), strict=True)]
            min_size = min(len(part) for part in parts)
    for part in parts:
        rng.shuffle(part)  # a list, as in the reference, so the random stream is the same
    return [np.asarray(part, dtype=np.int64) for part in parts]


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integer shares of ``total`` proportional to ``weights`` that add up to ``total`` exactly."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    exact = weights / weights.sum() * total
    shares = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - shares), kind="stable")
    shares[order[: total - shares.sum()]] += 1
    return shares


def share_test_rows(test_labels: np.ndarray, site_train_labels: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Test row indices per client, per class in proportion to the client's training rows of that class."""
    rng = np.random.default_rng(seed)
    counts = np.array([[np.sum(y == k) for k in range(N_CLASSES)] for y in site_train_labels])
    parts: list[list[np.ndarray]] = [[] for _ in site_train_labels]
    for k in range(N_CLASSES):
        rows = rng.permutation(np.flatnonzero(test_labels == k))
        cuts = np.cumsum(largest_remainder(counts[:, k], len(rows)))[:-1]
        for part, chunk in zip(parts, np.split(rows, cuts), strict=True):
            part.append(chunk)
    return [np.sort(np.concatenate(part)).astype(np.int64) for part in parts]


def to_features(rows: np.ndarray) -> np.ndarray:
    """uint8 rows (n, 3072) -> float32, [0, 1], standardised per channel with the CIFAR-10 constants."""
    x = rows.reshape(len(rows), 3, -1).astype(np.float32) / 255
    x = (x - MEAN[None, :, None]) / STD[None, :, None]
    return x.reshape(len(rows), PIXELS).astype(np.float32, copy=False)


def load_centers(raw_dir: Path, n_sites: int, options: dict | None = None) -> list[tuple]:
    """Per client: (train features, train labels, held-out features, held-out labels); see the module doc.

    ``options``: ``alpha`` (0.5), ``seed`` (0, the split seed), ``min_site_rows`` (10), ``url``, ``md5``,
    ``cache_dir``. ``raw_dir`` holds only SOURCES.md: the archive lives in the cache folder.
    """
    options = options or {}
    alpha, seed = float(options.get("alpha", 0.5)), int(options.get("seed", 0))
    batch_dir = ensure_batches(cache_dir_of(options), options.get("url", URL), options.get("md5", MD5))
    x_train, y_train, x_test, y_test = read_batches(batch_dir)
    train_parts = dirichlet_partition(y_train, n_sites, alpha, seed, int(options.get("min_site_rows", 10)))
    test_parts = share_test_rows(y_test, [y_train[rows] for rows in train_parts], seed)
    return [
        (to_features(x_train[train]), y_train[train], to_features(x_test[test]), y_test[test])
        for train, test in zip(train_parts, test_parts, strict=True)
    ]
