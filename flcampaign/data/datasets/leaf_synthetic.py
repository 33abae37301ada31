"""LEAF's synthetic data set, regenerated draw for draw (TalwalkarLab/leaf @ 09ec454, data/synthetic, BSD-2).

Nothing is shipped: the data are a pure function of LEAF's generator settings. ``generate`` follows
``data/synthetic/main.py`` and ``data_generator.py`` call for call, on a ``numpy.random.RandomState``
re-seeded exactly where LEAF calls ``np.random.seed`` (legacy global-RNG semantics, so the same
stream of draws):

1. seed; ``n = lognormal(3, 2, T).astype(int)``; ``n_i = min(n_i + 5, 1000)``;
2. seed again (``SyntheticDataset.__init__``); ``Q ~ N(0, 1)`` of shape (d+1, K, C);
   ``Sigma = diag((j+1)^-1.2)``; per cluster a scalar ``loc ~ N(0, 1)`` and ``mean ~ N(loc, 1)`` (size C);
3. per user: ``choice(range(C), p=PROB_CLUSTERS)`` (one uniform draw even for C = 1); scalar
   ``B ~ N(0, 1)``; ``v ~ N(B, 1)`` (size d); ``X ~ MVN(v, Sigma)`` (n_i rows) behind a bias column of
   ones; ``u ~ N(mean, 0.1)``; ``W = Q @ u``; ``y = argmax(softmax(X W + E, axis=1))`` with
   ``E ~ N(0, 0.1)`` (n_i, K); the bias column is dropped.

(An older ``data_generator.py`` normalised the softmax with Python's ``sum`` over the sample axis, which
changes the arg-max; 09ec454 uses ``scipy.special.softmax(..., axis=1)``, as here. The reference
figures in ``shared/reference/datasets.md`` section 7 hold only for the row-wise softmax.)

``leaf_split`` is LEAF's ``./preprocess.sh -s niid --sf 1.0 -k 5 -t sample --tf 0.6``: the non-iid
"sample" of the full fraction keeps every user with all of their rows but shuffles the user order
(``random.Random(sample_seed).shuffle``); users with fewer than ``k`` rows are dropped (none here, the
generator's minimum is 5); then, user by user in that shuffled order, one ``random.Random(split_seed)``
draws ``rng.sample(range(n), n_train)`` with ``n_train = max(1, int(0.6 * n))`` (1 when ``n == 2``)
and keeps rows in their original order. LEAF seeds both steps from the clock unless ``--smplseed`` /
``--spltseed`` are given, so there is no canonical split: the seeds used are options of the task
(``split_seed``; ``sample_seed`` defaults to it) and are recorded in the profile.

``load_centers`` groups the users into ``n_sites`` clients (``grouping``): ``blocks`` deals consecutive
user ids (``np.array_split`` of 0..T-1, so 100 users per site for 1,000 users and 10 sites) and
``round_robin`` gives user ``i`` to site ``i % n_sites``; with ``grouping_seed`` (null by default) the
sorted ids are first permuted with ``numpy.random.default_rng(grouping_seed)``, the partition seed that
repeats may vary (users are i.i.d. draws, so every permutation gives an equally valid grouping). A
site's training rows are its users' LEAF train rows and its test rows their LEAF test rows (the held-out
split here), users in id order, each user's rows in generation order. Labels are int64 class ids,
features float64 as generated.

BLAS runs single-threaded during generation (``threadpoolctl``, a scikit-learn dependency): the 1,000
small SVDs and products are several times faster than with threads on a busy machine, and their
reduction order no longer depends on how many threads BLAS would pick (the reference check passes either way).
"""

import random
from pathlib import Path

import numpy as np
from scipy.special import softmax
from threadpoolctl import threadpool_limits

NUM_USERS, NUM_CLASSES, NUM_DIM, SEED = 1000, 5, 60, 931231
PROB_CLUSTERS = (1.0,)
MIN_NUM_SAMPLES, MAX_NUM_SAMPLES = 5, 1000
TRAIN_FRACTION, MIN_SAMPLES_PER_USER = 0.6, 5
GROUPINGS = ("blocks", "round_robin")
OPTIONS = ("num_users", "num_classes", "num_dim", "seed", "split_seed", "sample_seed", "grouping", "grouping_seed")
PARTITION_OPTION = "grouping_seed"  # which users share a client: repeats may vary it


def num_samples(rng: np.random.RandomState, num_users: int) -> list[int]:
    """LEAF's ``get_num_samples``: lognormal(3, 2) truncated to int, plus 5, capped at 1000."""
    drawn = rng.lognormal(3, 2, num_users).astype(int)
    return [min(int(s) + MIN_NUM_SAMPLES, MAX_NUM_SAMPLES) for s in drawn]


def generate(
    num_users: int = NUM_USERS,
    num_classes: int = NUM_CLASSES,
    num_dim: int = NUM_DIM,
    seed: int = SEED,
    prob_clusters: tuple[float, ...] = PROB_CLUSTERS,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per user ``i`` (LEAF id ``str(i)``): features (n_i, d) float64 and labels (n_i,) int64."""
    with threadpool_limits(limits=1):
        return _generate(num_users, num_classes, num_dim, seed, prob_clusters)


def _generate(
    num_users: int, num_classes: int, num_dim: int, seed: int, prob_clusters: tuple[float, ...]
) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.RandomState(seed)  # main.py: np.random.seed(args.seed)
    sizes = num_samples(rng, num_users)
    rng.seed(seed)  # SyntheticDataset.__init__: np.random.seed(seed) again
    num_clusters = len(prob_clusters)
    q = rng.normal(loc=0.0, scale=1.0, size=(num_dim + 1, num_classes, num_clusters))
    sigma = np.zeros((num_dim, num_dim))
    for j in range(num_dim):
        sigma[j, j] = (j + 1) ** (-1.2)
    means = []
    for _ in range(num_clusters):
        loc = rng.normal(loc=0, scale=1.0, size=None)
        means.append(rng.normal(loc=loc, scale=1.0, size=num_clusters))
    users = []
    for n in sizes:
        cluster = rng.choice(range(num_clusters), size=None, replace=True, p=list(prob_clusters))
        b = rng.normal(loc=0.0, scale=1.0, size=None)
        centre = rng.normal(loc=b, scale=1.0, size=num_dim)
        x = np.ones((n, num_dim + 1))
        x[:, 1:] = rng.multivariate_normal(mean=centre, cov=sigma, size=n)
        cluster_mean = means[cluster]
        model_info = rng.normal(loc=cluster_mean, scale=0.1, size=cluster_mean.shape)
        w = np.matmul(q, model_info)
        noise = rng.normal(loc=0.0, scale=0.1, size=(n, num_classes))
        y = np.argmax(softmax(np.matmul(x, w) + noise, axis=1), axis=1)
        users.append((x[:, 1:], y.astype(np.int64)))
    return users


def leaf_split(
    users: list[tuple[np.ndarray, np.ndarray]],
    split_seed: int,
    sample_seed: int | None = None,
    train_fraction: float = TRAIN_FRACTION,
    min_samples: int = MIN_SAMPLES_PER_USER,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """LEAF's niid full-fraction sample, user filter and per-user sample split: user id -> train/test masks.

    Returns, per kept user id in LEAF's (shuffled) order, a boolean train mask and its complement.
    """
    order = [str(i) for i in range(len(users))]
    random.Random(split_seed if sample_seed is None else sample_seed).shuffle(order)  # sample.py, --sf 1.0
    order = [u for u in order if len(users[int(u)][1]) >= min_samples]  # remove_users.py -k
    rng = random.Random(split_seed)  # split_data.py --by_sample, --spltseed
    masks = {}
    for user in order:
        n = len(users[int(user)][1])
        if n < 2:
            continue
        n_train = max(1, int(train_fraction * n))
        if n == 2:
            n_train = 1
        train = np.zeros(n, dtype=bool)
        train[rng.sample([j for j in range(n)], n_train)] = True
        masks[user] = (train, ~train)
    return masks


def group_users(
    user_ids: list[str], n_sites: int, grouping: str = "blocks", grouping_seed: int | None = None
) -> list[list[str]]:
    """The documented grouping of user ids (sorted numerically, permuted by ``grouping_seed`` when given) into
    ``n_sites`` disjoint sites."""
    ids = sorted(user_ids, key=int)
    if grouping_seed is not None:
        ids = [ids[i] for i in np.random.default_rng(int(grouping_seed)).permutation(len(ids))]
    if not 1 <= n_sites <= len(ids):
        raise ValueError(f"{len(ids)} users cannot make {n_sites} sites")
    if grouping == "blocks":
        groups = [list(block) for block in np.array_split(np.asarray(ids, dtype=object), n_sites)]
    elif grouping == "round_robin":
        groups = [ids[site::n_sites] for site in range(n_sites)]
    else:
        raise ValueError(f"unknown grouping {grouping!r}; expected one of {GROUPINGS}")
    return [sorted(group, key=int) for group in groups]  # a site's users in id order, whatever the grouping


def load_centers(raw_dir: Path | None = None, n_sites: int = 10, options: dict | None = None) -> list[tuple]:
    """Per site: (train features, train labels, test features, test labels); ``raw_dir`` is not read."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown leaf_synthetic options {unknown}; expected some of {list(OPTIONS)}")
    if "split_seed" not in options:
        raise ValueError("leaf_synthetic needs options.split_seed (LEAF's --spltseed; its default is the clock)")
    users = generate(
        int(options.get("num_users", NUM_USERS)),
        int(options.get("num_classes", NUM_CLASSES)),
        int(options.get("num_dim", NUM_DIM)),
        int(options.get("seed", SEED)),
    )
    sample_seed = options.get("sample_seed")
    masks = leaf_split(users, int(options["split_seed"]), None if sample_seed is None else int(sample_seed))
    out = []
    for group in group_users(list(masks), n_sites, options.get("grouping", "blocks"), options.get("grouping_seed")):
        parts = []
        for side in (0, 1):  # 0: LEAF train rows, 1: LEAF test rows
            parts.append(np.concatenate([users[int(u)][0][masks[u][side]] for u in group]))
            parts.append(np.concatenate([users[int(u)][1][masks[u][side]] for u in group]))
        out.append(tuple(parts))
    return out
