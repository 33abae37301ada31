"""Per-client delivery of training splits: each site's split reaches exactly one client process.

No process of a run can open a training split by name. The runner (trusted, outside every
sandbox) serves a Unix socket for the length of a simulation; the trusted launcher of each client
worker asks for its own site before any candidate code exists in that process, and receives an
open, read-only descriptor of that site's file. A site is delivered once per run: a second request,
whoever makes it, and a request for a site that does not exist are refused and recorded, and the
run is then invalid (``cross-site-data``). The data bridge of a task (``fl_data.load_train``)
reads the descriptor and refuses any other site's name.
"""

import os
import socket
import threading
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from flcampaign.execution.containment import current_policy, stop

if TYPE_CHECKING:
    import numpy as np

FD_VARIABLE = "FLCAMPAIGN_TRAIN_FD"
MAX_REQUEST = 64


class SiteDataBroker:
    """The runner's side: serves each site's training file once, over ``socket_path``."""

    def __init__(self, train_dir: Path, sites: list[str], socket_path: Path):
        self.train_dir, self.sites, self.socket_path = Path(train_dir), list(sites), Path(socket_path)
        self.delivered: dict[str, int] = {}
        self.refused: list[str] = []
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "SiteDataBroker":
        self.socket_path.unlink(missing_ok=True)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.socket_path))
        self._server.listen(16)
        self._thread = threading.Thread(target=self._serve, name="site-data", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            with suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.socket_path.unlink(missing_ok=True)

    def _serve(self) -> None:
        server = self._server
        if server is None:
            raise RuntimeError("the broker serves only once entered (its with block opens the socket)")
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(10)
                with suppress(OSError):
                    self._answer(connection, connection.recv(MAX_REQUEST).decode(errors="replace").strip())

    def _answer(self, connection: socket.socket, site: str) -> None:
        if site not in self.sites:
            self.refused.append(f"a request for {site!r}, which is not a site of this task")
            connection.sendall(b"refused: no such site")
        elif site in self.delivered:
            self.refused.append(f"a second request for {site}'s training split")
            connection.sendall(b"refused: already delivered")
        else:
            self.delivered[site] = self.delivered.get(site, 0) + 1
            fd = os.open(self.train_dir / f"{site}.npz", os.O_RDONLY | os.O_CLOEXEC)
            try:
                socket.send_fds(connection, [b"ok"], [fd])
            finally:
                os.close(fd)

    def record(self) -> dict:
        return {"delivered": sorted(self.delivered), "refused": list(self.refused)}


def request(socket_path: Path, site: str) -> int:
    """The launcher's side: this worker's own split, as an open descriptor (raises when refused)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(str(socket_path))
        client.sendall(site.encode())
        message, fds, _, _ = socket.recv_fds(client, 256, 1)
    if message != b"ok" or len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise PermissionError(f"{site}: {message.decode(errors='replace')}")
    return fds[0]


def own_training_split(site_name: str) -> "tuple[np.ndarray, np.ndarray]":
    """The bridge's side: features and labels of this process's own site; any other name is a violation.

    numpy is imported here, not by the module: the launcher of every client worker imports this module
    and never reads a split itself."""
    import numpy as np

    policy = current_policy()
    own = policy.site if policy is not None else ""
    if site_name != own or FD_VARIABLE not in os.environ:
        stop("cross-site-data", f"{own or 'a process with no site'} asked for the training split of {site_name!r}")
    fd = int(os.environ[FD_VARIABLE])
    with os.fdopen(os.dup(fd), "rb") as handle:
        handle.seek(0)
        with np.load(handle, allow_pickle=False) as arrays:
            return np.array(arrays["x"]), np.array(arrays["y"])
