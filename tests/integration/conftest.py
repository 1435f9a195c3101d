"""Fixtures for the integration tests: a real node (anvil from npm) and the real CLI processes.

- ``anvil``: a factory starting ``node_modules/.bin/anvil`` on a free loopback port with interval
  mining (``block_time`` seconds; ``mixed=True`` also mines each transaction at once), waiting
  until it answers ``eth_chainId``, and stopping it after the test. ``Anvil.rpc(method, *params)``
  calls any JSON-RPC method (``evm_increaseTime``, ``anvil_reorg``…); ``stop``/``start`` keep the
  chain across an outage when started with ``state=True`` (``--state FILE``). The tests are
  skipped, with the reason, only when the binary is missing (``make test`` runs ``npm ci``).
- ``DEV_KEYS``: anvil's well-known development keys (funded with 10 000 ETH on every anvil).
- ``run_cli(*args, env=…)``: the ``bridge`` console script in a subprocess; ``KeeperProcess``:
  ``bridge keeper run`` in the background with its log in a file, killable with SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.chain.anvil import ANVIL, DEV_KEYS, Anvil, free_port
from bridge.testing.agents import ManagedProcess, process_env

BRIDGE = Path(sys.executable).parent / "bridge"


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[Callable[..., Anvil]]:
    """Factory: ``anvil(block_time=1, mixed=False, state=False, extra=())`` → a started node."""
    if not os.access(ANVIL, os.X_OK):
        pytest.skip(f"anvil is not installed at {ANVIL}: run `npm ci` (make test does)")
    nodes: list[Anvil] = []

    def start(**kwargs: Any) -> Anvil:
        node = Anvil(tmp_path, **kwargs).start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()


def cli_env(key: str, **extra: str) -> dict[str, str]:
    """Environment for a CLI process signing with ``key`` (never passed as an argument)."""
    return process_env(key, **extra)


def run_cli(*args: str, key: str = DEV_KEYS[0], cwd: Path | None = None, check: bool = True,
            env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``bridge ARGS`` and return the completed process (raise on failure if ``check``)."""
    proc = subprocess.run([str(BRIDGE), *args], cwd=cwd, env=env or cli_env(key),
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"bridge {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


class KeeperProcess(ManagedProcess):
    """``bridge keeper run`` in the background; ``kill()`` is SIGKILL, ``stop()`` SIGTERM."""

    def __init__(self, workdir: Path, rpc: str, market: str, database: str, *,
                 key: str = DEV_KEYS[0], confirmations: int = 1, poll_interval: float = 0.3,
                 extra: tuple[str, ...] = (), env: dict[str, str] | None = None,
                 name: str = "keeper") -> None:
        super().__init__([str(BRIDGE), "-v", "keeper", "run", "--rpc", rpc, "--market", market,
                          "--database", database, "--confirmations", str(confirmations),
                          "--poll-interval", str(poll_interval), *extra],
                         workdir / f"{name}.log", cli_env(key, **(env or {})), cwd=workdir)
        self.workdir = workdir

    def start(self, *extra: str) -> KeeperProcess:
        super().start(*extra)
        return self


@pytest.fixture
def keepers() -> Iterator[list[KeeperProcess]]:
    """Keeper processes a test started; each is killed afterwards if still running."""
    started: list[KeeperProcess] = []
    yield started
    for k in started:
        k.kill()


# ------------------------------------------------------------------------------- PostgreSQL
def _pg_bin(name: str) -> str | None:
    import glob
    import shutil

    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PostgresCluster:
    """A throwaway PostgreSQL cluster on loopback (trust auth), run as a non-root user."""

    def __init__(self, base: Path) -> None:
        import pwd
        import tempfile

        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            pytest.skip("PostgreSQL is not installed (initdb/pg_ctl not found): "
                        "apt-get install postgresql (.ci/run does)")
        self.pg_ctl = pg_ctl
        self.dir = Path(tempfile.mkdtemp(prefix="bridge-pg-", dir=base))
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.data = self.dir / "data"
        subprocess.run([*self.prefix, initdb, "-D", str(self.data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-sync"], check=True,
                       capture_output=True)
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run([*self.prefix, pg_ctl, "-D", str(self.data), "-o", opts,
                        "-l", str(self.dir / "log"), "-w", "start"], check=True,
                       capture_output=True)
        self.admin = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._n = 0

    def new_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        from sqlalchemy import create_engine, text

        self._n += 1
        name = f"t{self._n}_{os.getpid()}"
        engine = create_engine(self.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            c.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the cluster immediately."""
        subprocess.run([*self.prefix, self.pg_ctl, "-D", str(self.data), "-m", "immediate",
                        "stop"], capture_output=True)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the session (skipped, with the reason, if not installed)."""
    base = tmp_path_factory.mktemp("pg")
    os.chmod(base, 0o755)
    for parent in list(base.parents)[:3]:
        with contextlib.suppress(OSError):
            os.chmod(parent, os.stat(parent).st_mode | 0o711)
    cluster = PostgresCluster(base)
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The keeper's database URL: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keeper.sqlite'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database()
