"""The CIFAR-10 task: the download loader (checksum, lock, atomic extraction), the Dirichlet split,
the profile, the base sources' contract, and one real NVFlare round.

The real archive cannot be had offline, so a small archive in the exact CIFAR-10 on-disk format
(``cifar-10-batches-py/`` with pickled dicts with byte-string keys, in a tar.gz) is generated here and
served to ``fetch`` by a local HTTP server or through a ``file://`` URL.
"""

import contextlib
import copy
import hashlib
import io
import json
import pickle
import subprocess
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO

from flcampaign.contract.validation import validate_candidate
from flcampaign.data.datasets import cifar10
from flcampaign.data.splits import load_split, prepare, rows_digest
from flcampaign.execution.runner import simulate
from flcampaign.execution.sandbox import choose
from flcampaign.execution.slots import Slot
from flcampaign.scoring.evaluator import score_run
from flcampaign.task import Task

TASK_DIR = REPO / "flcampaign" / "tasks" / "cifar10"
LABEL_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


# --- a small archive in the CIFAR-10 on-disk format ---------------------------------------------------------


def batch_dict(name: str, data: np.ndarray, labels: np.ndarray) -> dict:
    return {
        b"batch_label": name.encode(),
        b"labels": [int(v) for v in labels],
        b"data": data,
        b"filenames": [f"{name}_{i}.png".encode() for i in range(len(labels))],
    }


def write_archive(path: Path, per_batch: int = 120, n_test: int = 200, seed: int = 0, **options) -> dict:
    """Write a fake ``cifar-10-python.tar.gz``; returns its md5 and the arrays it holds.

    ``options``: ``omit`` (batch names to leave out), ``extra`` ({member name: bytes} to add as is).
    """
    rng = np.random.default_rng(seed)

    def rows(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.resize(np.arange(10), n))  # every class in every batch
        return rng.integers(0, 256, (n, cifar10.PIXELS), dtype=np.uint8), labels

    members, train = {}, []
    for i, name in enumerate(cifar10.TRAIN_BATCHES, start=1):
        data, labels = rows(per_batch)
        train.append((data, labels))
        members[name] = pickle.dumps(batch_dict(f"training batch {i} of 5", data, labels))
    x_test, y_test = rows(n_test)
    members[cifar10.TEST_BATCH] = pickle.dumps(batch_dict("testing batch 1 of 1", x_test, y_test))
    meta = {b"num_cases_per_batch": per_batch, b"label_names": LABEL_NAMES, b"num_vis": cifar10.PIXELS}
    members["batches.meta"] = pickle.dumps(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo(cifar10.BATCH_DIR)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for name, payload in members.items():
            if name not in options.get("omit", ()):
                add_member(tar, f"{cifar10.BATCH_DIR}/{name}", payload)
        for name, payload in options.get("extra", {}).items():
            add_member(tar, name, payload)
    return {
        "path": path,
        "md5": hashlib.md5(path.read_bytes()).hexdigest(),
        "x_train": np.concatenate([x for x, _ in train]),
        "y_train": np.concatenate([y for _, y in train]),
        "x_test": x_test,
        "y_test": y_test,
    }


def add_member(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(payload), 0o644
    tar.addfile(info, io.BytesIO(payload))


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> dict:
    return write_archive(tmp_path_factory.mktemp("fake-cifar") / cifar10.ARCHIVE)


class ArchiveServer:
    """HTTP server on 127.0.0.1 that serves fixed bytes, counts GETs and can send slowly."""

    def __init__(self, files: dict[str, bytes], seconds_per_file: float = 0.0):
        self.files, self.seconds_per_file, self.gets = files, seconds_per_file, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.gets.append(self.path)
                payload = server.files.get(self.path.lstrip("/"))
                if payload is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                chunks = np.array_split(np.frombuffer(payload, dtype=np.uint8), 5)
                for chunk in chunks:
                    time.sleep(server.seconds_per_file / len(chunks))
                    self.wfile.write(chunk.tobytes())

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def serving(files: dict[str, bytes], seconds_per_file: float = 0.0):
    server = ArchiveServer(files, seconds_per_file)
    try:
        yield server
    finally:
        server.close()


def cache_entries(cache: Path) -> set[str]:
    return {p.name for p in cache.iterdir()}


# --- fetch: checksum, no second download, concurrency ------------------------------------------------------


def test_fetch_verifies_the_checksum_and_downloads_only_once(tmp_path, archive):
    cache = tmp_path / "cache"
    with serving({"cifar.tar.gz": archive["path"].read_bytes()}) as server:
        path = cifar10.fetch(cache, server.url("cifar.tar.gz"), archive["md5"])
        assert path == cache / cifar10.ARCHIVE and cifar10.md5_file(path) == archive["md5"]
        again = cifar10.fetch(cache, server.url("cifar.tar.gz"), archive["md5"])
        assert again == path and len(server.gets) == 1  # found verified, not downloaded again
    assert cache_entries(cache) == {cifar10.ARCHIVE, cifar10.LOCK_NAME}


def test_corrupted_download_is_refused_and_not_left_in_the_cache(tmp_path, archive):
    cache = tmp_path / "cache"
    good = archive["path"].read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    with serving({"bad.tar.gz": bytes(bad), "good.tar.gz": good}) as server:
        with pytest.raises(cifar10.ChecksumError, match="discarded"):
            cifar10.fetch(cache, server.url("bad.tar.gz"), archive["md5"])
        assert cache_entries(cache) == {cifar10.LOCK_NAME}  # no archive, no temporary file
        # a corrupt archive already in the cache is replaced by a verified download
        (cache / cifar10.ARCHIVE).write_bytes(bytes(bad))
        path = cifar10.fetch(cache, server.url("good.tar.gz"), archive["md5"])
        assert cifar10.md5_file(path) == archive["md5"]
        assert server.gets == ["/bad.tar.gz", "/good.tar.gz"]


def test_unreachable_archive_is_a_fetch_error_and_leaves_nothing(tmp_path, archive):
    cache = tmp_path / "cache"
    with pytest.raises(cifar10.FetchError, match="could not download"):
        cifar10.fetch(cache, (tmp_path / "missing.tar.gz").as_uri(), archive["md5"])
    assert cache_entries(cache) == {cifar10.LOCK_NAME}
    # file:// URLs work too (an offline mirror)
    assert cifar10.md5_file(cifar10.fetch(cache, archive["path"].as_uri(), archive["md5"])) == archive["md5"]


FETCH_SCRIPT = """
import json, sys, time
from pathlib import Path
from flcampaign.data.datasets import cifar10
print("ready", flush=True)
sys.stdin.readline()  # released once every process is ready
start = time.monotonic()
path = cifar10.fetch(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
print(json.dumps([str(path), cifar10.md5_file(path), start, time.monotonic()]))
"""


def test_concurrent_fetches_download_once_and_share_the_verified_archive(tmp_path, archive):
    cache = tmp_path / "cache"
    with serving({"cifar.tar.gz": archive["path"].read_bytes()}, seconds_per_file=1.0) as server:
        cmd = [sys.executable, "-c", FETCH_SCRIPT, str(cache), server.url("cifar.tar.gz"), archive["md5"]]
        workers = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(4)]
        assert [worker.stdout.readline().strip() for worker in workers] == ["ready"] * 4
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0, 0, 0]
        assert len(server.gets) == 1
    outcomes = [json.loads(output) for output in outputs]
    assert {(path, md5) for path, md5, _, _ in outcomes} == {(str(cache / cifar10.ARCHIVE), archive["md5"])}
    assert max(start for *_, start, _ in outcomes) < min(end for *_, end in outcomes)  # they did overlap
    assert cache_entries(cache) == {cifar10.ARCHIVE, cifar10.LOCK_NAME}


# --- extraction -------------------------------------------------------------------------------------------


def test_extraction_is_complete_marked_and_cleans_up_after_a_killed_run(tmp_path, archive):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / ".extract-killed").mkdir()  # what a killed extraction or download leaves behind
    (cache / ".extract-killed" / "data_batch_1").write_bytes(b"half")
    (cache / ".download-killed.part").write_bytes(b"half")
    assert cifar10.extracted(cache, archive["md5"]) is None
    batch_dir = cifar10.extract(archive["path"], cache, archive["md5"])
    assert batch_dir == cache / cifar10.BATCH_DIR and cifar10.extracted(cache, archive["md5"]) == batch_dir
    assert (batch_dir / cifar10.COMPLETE_MARK).read_text().strip() == archive["md5"]
    assert cache_entries(cache) == {cifar10.BATCH_DIR, cifar10.LOCK_NAME}
    x_train, y_train, x_test, y_test = cifar10.read_batches(batch_dir)
    assert x_train.dtype == np.uint8 and x_train.shape == (600, 3072) and x_test.shape == (200, 3072)
    assert np.array_equal(x_train, archive["x_train"]) and np.array_equal(y_train, archive["y_train"])
    assert np.array_equal(x_test, archive["x_test"]) and np.array_equal(y_test, archive["y_test"])


def test_failed_extraction_leaves_no_batch_folder(tmp_path):
    cache = tmp_path / "cache"
    broken = write_archive(tmp_path / "broken.tar.gz", omit=(cifar10.TEST_BATCH,))
    with pytest.raises(ValueError, match="test_batch"):
        cifar10.extract(broken["path"], cache, broken["md5"])
    assert cache_entries(cache) == {cifar10.LOCK_NAME}


def test_archive_members_cannot_escape_the_cache(tmp_path):
    cache = tmp_path / "cache"
    evil = write_archive(tmp_path / "evil.tar.gz", extra={"../escaped.txt": b"x"})
    with pytest.raises(tarfile.FilterError):
        cifar10.extract(evil["path"], cache, evil["md5"])
    assert not (tmp_path / "escaped.txt").exists()
    assert cache_entries(cache) == {cifar10.LOCK_NAME}


def test_incomplete_folder_is_replaced_and_concurrent_extractions_unpack_once(tmp_path, archive, monkeypatch):
    cache = tmp_path / "cache"
    (cache / cifar10.BATCH_DIR).mkdir(parents=True)  # e.g. half-unpacked by another tool: no completion mark
    (cache / cifar10.BATCH_DIR / "data_batch_1").write_bytes(b"partial")
    unpacked = []
    real_extractall = tarfile.TarFile.extractall

    def counting_extractall(self, *args, **kwargs):
        unpacked.append(threading.get_ident())
        time.sleep(0.3)  # keep the others waiting on the lock
        return real_extractall(self, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "extractall", counting_extractall)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(cifar10.extract(archive["path"], cache, archive["md5"])))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(unpacked) == 1 and len(results) == 4 and set(results) == {cache / cifar10.BATCH_DIR}
    assert np.array_equal(cifar10.read_batch(results[0] / "data_batch_1")[0], archive["x_train"][:120])
    assert cache_entries(cache) == {cifar10.BATCH_DIR, cifar10.LOCK_NAME}


# --- the Dirichlet split ----------------------------------------------------------------------------------


def class_shares(labels: np.ndarray, parts: list[np.ndarray]) -> np.ndarray:
    return np.array([np.bincount(labels[p], minlength=10) / len(p) for p in parts])


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    return np.random.default_rng(7).permutation(np.resize(np.arange(10), 5000))


def test_dirichlet_split_is_deterministic_and_a_partition(labels):
    parts = cifar10.dirichlet_partition(labels, 8, 0.5, seed=0)
    again = cifar10.dirichlet_partition(labels, 8, 0.5, seed=0)
    other = cifar10.dirichlet_partition(labels, 8, 0.5, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    assert not all(len(a) == len(b) and np.array_equal(a, b) for a, b in zip(parts, other, strict=True))
    for split in (parts, other):
        assert len(split) == 8 and min(len(p) for p in split) >= 10
        assert np.array_equal(np.sort(np.concatenate(split)), np.arange(len(labels)))  # each row exactly once


def reference_partition(labels: np.ndarray, n_sites: int, alpha: float, seed: int) -> list[list[int]]:
    """The reference Auto-FL split (research/auto-fl-research/data/cifar10_data_split.py), with numpy's global RNG."""
    np.random.seed(seed)
    min_size, total = 0, len(labels)
    while min_size < 10:
        idx_batch = [[] for _ in range(n_sites)]
        for k in range(10):
            idx_k = np.where(labels == k)[0]
            np.random.shuffle(idx_k)
            proportions = np.random.dirichlet(np.repeat(alpha, n_sites))
            proportions = np.array(
                [p * (len(j) < total / n_sites) for p, j in zip(proportions, idx_batch, strict=True)]
            )
            proportions = (np.cumsum(proportions / proportions.sum()) * len(idx_k)).astype(int)[:-1]
            idx_batch = [j + i.tolist() for j, i in zip(idx_batch, np.split(idx_k, proportions), strict=True)]
            min_size = min(len(j) for j in idx_batch)
    for j in range(n_sites):
        np.random.shuffle(idx_batch[j])
    return idx_batch


def test_dirichlet_split_gives_the_reference_indices(labels):
    state = np.random.get_state()
    try:
        for alpha, seed in ((0.5, 0), (0.1, 3)):
            expected = reference_partition(labels, 8, alpha, seed)
            got = cifar10.dirichlet_partition(labels, 8, alpha, seed)
            assert [part.tolist() for part in got] == expected
    finally:
        np.random.set_state(state)


def test_small_alpha_skews_labels_and_large_alpha_is_near_uniform(labels):
    skewed = class_shares(labels, cifar10.dirichlet_partition(labels, 8, 0.05, seed=0))
    uniform = class_shares(labels, cifar10.dirichlet_partition(labels, 8, 1000.0, seed=0))
    assert skewed.max(axis=1).mean() > 0.6  # most of a client's rows come from one class
    assert np.abs(uniform - 0.1).max() < 0.03


def test_dirichlet_split_refuses_impossible_requests(labels):
    with pytest.raises(ValueError, match="alpha"):
        cifar10.dirichlet_partition(labels, 8, 0.0, seed=0)
    with pytest.raises(ValueError, match="draws"):
        cifar10.dirichlet_partition(labels[:50], 8, 0.5, seed=0, max_draws=20)


def test_held_out_shares_cover_the_test_set_once_and_follow_each_clients_label_mix(labels):
    parts = cifar10.dirichlet_partition(labels, 8, 0.5, seed=0)
    test_labels = np.random.default_rng(3).permutation(np.resize(np.arange(10), 1000))
    shares = cifar10.share_test_rows(test_labels, [labels[p] for p in parts], seed=0)
    assert np.array_equal(np.sort(np.concatenate(shares)), np.arange(1000))
    assert shares[0].tolist() == cifar10.share_test_rows(test_labels, [labels[p] for p in parts], seed=0)[0].tolist()
    train_mix, test_mix = class_shares(labels, parts), class_shares(test_labels, shares)
    for part, share, train, test in zip(parts, shares, train_mix, test_mix, strict=True):
        assert abs(len(share) / 1000 - len(part) / len(labels)) < 0.005  # the client's share of the data
        distance = 0.5 * np.abs(train - test).sum()  # total variation distance of the label mixes
        assert distance < (0.05 if len(part) >= 200 else 0.15)


def test_largest_remainder_adds_up_exactly():
    assert cifar10.largest_remainder(np.array([1, 1, 1]), 10).tolist() == [4, 3, 3]
    assert cifar10.largest_remainder(np.array([0, 0]), 5).sum() == 5
    assert cifar10.largest_remainder(np.array([5, 0, 15]), 7).tolist() == [2, 0, 5]


def test_load_centers_reads_the_archive_into_normalised_client_rows(tmp_path, archive):
    options = {"cache_dir": str(tmp_path / "cache"), "url": archive["path"].as_uri(), "md5": archive["md5"]}
    centers = cifar10.load_centers(TASK_DIR / "data", 8, {**options, "alpha": 0.5, "seed": 0})
    assert len(centers) == 8
    train_rows, test_rows = [], []
    for x_train, y_train, x_test, y_test in centers:
        for x, y in ((x_train, y_train), (x_test, y_test)):
            assert x.dtype == np.float32 and x.shape == (len(y), 3072) and y.dtype == np.int64
        train_rows.append((x_train, y_train))
        test_rows.append((x_test, y_test))

    def restored(rows: list) -> np.ndarray:
        """Back to uint8 pixels, to match the archive's rows."""
        x = np.concatenate([x for x, _ in rows]).reshape(-1, 3, 1024)
        pixels = (x * cifar10.STD[None, :, None] + cifar10.MEAN[None, :, None]) * 255
        return np.rint(pixels).astype(np.uint8).reshape(-1, 3072)

    for rows, data, truth in ((train_rows, archive["x_train"], archive["y_train"]),
                              (test_rows, archive["x_test"], archive["y_test"])):  # fmt: skip
        pixels, labels = restored(rows), np.concatenate([y for _, y in rows])
        assert len(pixels) == len(data)  # every row in exactly one client
        order, source = np.lexsort(pixels.T[::-1]), np.lexsort(data.T[::-1])
        assert np.array_equal(pixels[order], data[source]) and np.array_equal(labels[order], truth[source])
    white = cifar10.to_features(np.full((1, 3072), 255, dtype=np.uint8)).reshape(3, 1024)
    assert np.allclose(white[:, 0], (1 - cifar10.MEAN) / cifar10.STD)
    assert np.allclose(cifar10.MEAN * 255, [125.3, 123.0, 113.9]) and np.allclose(cifar10.STD * 255, [63.0, 62.1, 66.7])


def test_another_partition_seed_deals_the_same_held_out_rows_to_other_clients(tmp_path, archive):
    """repeats.vary_partition re-draws the Dirichlet split with the run's seed: the test set stays the test set."""
    options = {"cache_dir": str(tmp_path / "cache"), "url": archive["path"].as_uri(), "md5": archive["md5"]}
    assert cifar10.PARTITION_OPTION == "seed"
    first, other = (cifar10.load_centers(TASK_DIR / "data", 8, {**options, "seed": seed}) for seed in (0, 42))
    assert rows_digest([(c[2], c[3]) for c in first]) == rows_digest([(c[2], c[3]) for c in other])
    assert [len(c[3]) for c in first] != [len(c[3]) for c in other]  # other clients hold them
    assert [len(c[1]) for c in first] != [len(c[1]) for c in other]  # and other training rows


# --- the task: profile, base sources, client code ------------------------------------------------------


def test_profile_has_the_reference_budget():
    task = Task.load(TASK_DIR)
    assert task.name == "cifar10" and task.data["loader"] == "cifar10"
    assert {k: task.budget[k] for k in ("n_clients", "num_rounds", "batch_size", "max_model_params")} == {
        "n_clients": 8,
        "num_rounds": 20,
        "batch_size": 64,
        "max_model_params": 5_000_000,
    }
    options = task.data["options"]
    assert (options["alpha"], options["seed"], options["url"], options["md5"]) == (0.5, 0, cifar10.URL, cifar10.MD5)
    assert task.data["normalize"] == "none" and task.model["input_features"] == 3072
    assert task.metric == {"name": "accuracy", "kind": "accuracy", "direction": "max", "site_aggregation": "pooled"}
    assert task.seeds == {"search": 0, "repeat": [42, 43, 44, 45, 46]}
    assert task.knob_values({})["aggregation_epochs"] == 4 and task.knob_values({})["local_steps"] == 0
    assert task.knobs["lr"]["log_scale"] and {"aggregator", "server_lr", "server_momentum"} <= set(task.knobs)


def write_baseline(candidates: Path) -> str:
    folder = candidates / "0000-baseline"
    folder.mkdir(parents=True)
    (folder / "candidate.yaml").write_text(
        "title: Baseline\nhypothesis: the task as shipped\nparent: baseline\nfamily: fedavg\n"
        "created: '2026-11-24T00:00:00+00:00'\npatches: {}\n"
    )
    return "0000-baseline"


def test_base_sources_pass_every_static_check(tmp_path):
    task = Task.load(TASK_DIR)
    cid = write_baseline(tmp_path / "candidates")
    record = validate_candidate(tmp_path / "candidates", cid, task, tmp_path / "results")
    assert record["state"] == "ok", record["reason"]
    assert record["changed_files"] == [] and record["is_baseline"]


@pytest.fixture
def task_modules():
    """The task's client and model modules, imported from src/ and removed again afterwards."""
    names = ("client", "model", "fl_data", "aggregators")
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    sys.path.insert(0, str(Task.load(TASK_DIR).sources))
    no_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in the task sources
    try:
        import client
        import model

        yield client, model
    finally:
        sys.dont_write_bytecode = no_bytecode
        sys.path.remove(str(Task.load(TASK_DIR).sources))
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def test_model_fits_the_cap_and_takes_flattened_rows(task_modules):
    _, model = task_modules
    net = model.ModerateCNN(seed=3)
    assert sum(p.numel() for p in net.parameters()) == 3_491_530 <= 5_000_000
    same = model.ModerateCNN(seed=3)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), same.state_dict().values(), strict=True))
    net.eval()
    x = torch.randn(7, 3072)
    with torch.no_grad():
        direct = net(x)
        model.EVAL_CHUNK = 3  # eval-mode forward passes go in chunks (the fixture drops the module afterwards)
        chunked = net(x)
    assert direct.shape == chunked.shape == (7, 10) and torch.allclose(chunked, direct, atol=1e-5)


def test_augmentation_is_a_seeded_reflect_padded_crop_with_flips(task_modules):
    client, _ = task_modules
    images = torch.randn(16, 3, 32, 32)
    out = client.augment(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    assert torch.equal(out, client.augment(images, torch.Generator().manual_seed(0)))
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4), mode="reflect")

    def window(i: int, dy: int, dx: int, flip: bool) -> torch.Tensor:
        crop = padded[i, :, dy : dy + 32, dx : dx + 32]
        return crop.flip(-1) if flip else crop

    flips = 0
    for i in range(len(images)):
        windows = [
            (dy, dx, flip)
            for dy in range(9)
            for dx in range(9)
            for flip in (False, True)
            if torch.equal(out[i], window(i, dy, dx, flip))
        ]
        assert windows, f"image {i} is not a (flipped) crop of its padded image"
        flips += windows[0][2]
    assert 0 < flips < len(images)


def test_local_training_runs_whole_epochs_or_exact_steps(task_modules):
    """Epoch mode: aggregation_epochs full passes, schedule stepped per epoch; step mode: exactly local_steps."""
    client, _ = task_modules
    images, labels = torch.randn(70, 3, 32, 32), torch.randint(0, 10, (70,))
    for plan, steps, schedule_steps in (((2, 2), 4, 2), ((5, 1), 5, 5)):  # (units, steps per unit)
        tiny = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3072, 10))
        optimizer = torch.optim.SGD(tiny.parameters(), lr=0.1, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10, eta_min=0.001)
        generator = torch.Generator().manual_seed(0)
        stream = client.index_stream(len(labels), 64, generator)
        done, metrics = client.local_train(
            tiny, images, labels, stream, optimizer, scheduler, plan, generator, torch.device("cpu"), "test"
        )
        assert done == steps and scheduler.last_epoch == schedule_steps
        assert set(metrics) == {"train_loss", "train_accuracy"} and 0 <= metrics["train_accuracy"] <= 1
    stream = client.index_stream(70, 64, torch.Generator().manual_seed(0))
    epoch = [next(stream), next(stream)]  # ceil(70 / 64) batches are exactly one pass over the rows
    assert [len(b) for b in epoch] == [64, 6] and sorted(torch.cat(epoch).tolist()) == list(range(70))


# --- one real round on the fake data ----------------------------------------------------------------------


def fake_data_task(archive: dict, cache: Path, **budget) -> Task:
    """The cifar10 task reading the fake archive, with a shortened budget and 2 local steps per round."""
    task = Task.load(TASK_DIR)
    profile = copy.deepcopy(task.profile)
    profile["data"]["options"].update(url=archive["path"].as_uri(), md5=archive["md5"], cache_dir=str(cache))
    profile["budget"].update(budget)
    profile["surface"]["knobs"]["local_steps"]["default"] = 2
    return Task(task.root, profile)


@pytest.mark.slow
def test_one_round_on_fake_data_simulates_and_scores(tmp_path, archive):
    task = fake_data_task(archive, tmp_path / "cache", num_rounds=1, timeout_seconds=600, stall_seconds=180)
    splits = tmp_path / "splits"
    summary = prepare(task, splits)
    assert len(summary["sites"]) == 8
    assert sum(s["train"] + s["search_val"] for s in summary["sites"].values()) == 600
    assert sum(s["heldout"] for s in summary["sites"].values()) == 200
    assert all(x.shape[1] == 3072 for x, _ in load_split(splits, "train").values())
    cid = write_baseline(tmp_path / "candidates")
    validation = validate_candidate(tmp_path / "candidates", cid, task, tmp_path / "results")
    assert validation["state"] == "ok", validation["reason"]
    tree = tmp_path / "results" / "candidates" / cid / "src"
    run_dir = tmp_path / "results" / "runs" / cid
    sandbox = choose("auto")
    run = simulate(task, validation, tree, splits / "train", "search", 0, run_dir, tmp_path / "work" / cid,
                   slots=[Slot(0, "cpu", "cpu0")], lock_dir=tmp_path / "locks", sandbox=sandbox)  # fmt: skip
    assert run["state"] == "ok", run["reason"] + "\n" + (run_dir / "sim.log").read_text()[-3000:]
    assert run["model_spec"]["path"] == "model.ModerateCNN"
    score = score_run(task, run, run_dir, tree, splits, "search_val", run_dir / "score.json", sandbox)
    assert score["state"] == "ok", score["reason"]
    assert score["n_params"] == 3_491_530 and 0.0 <= score["score"] <= 1.0
    assert set(score["per_site"]) == {f"site-{k}" for k in range(1, 9)}
