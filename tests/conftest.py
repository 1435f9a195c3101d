"""Suite-wide: which tests run against wall-clock time, and the order the slow ones start in.

- ``realtime``: set here on every test under ``tests/integration`` and ``tests/browser`` and on
  every test marked ``anvil`` or ``browser`` (a node, processes, a browser); a test elsewhere that
  waits on the clock says so itself with ``@pytest.mark.realtime``. ``make check`` runs the
  suite with ``-m "not realtime"``; ``make test`` runs all of it (no marker expression), so a test
  can be left out of the fast tier but never out of the full one.
- ``slow`` tests are moved to the front of the run: with ``pytest -n 2 --dist worksteal`` the long
  ones start first and the short ones fill in around them, so both workers finish together.
- The root logger is put back after every test: a CLI command run in-process installs a stderr
  handler (``configure_logging``, ``basicConfig``) on the stream its runner captured and raises
  the level; left there, a later test's background threads log into that closed stream and the
  "--- Logging error ---" lands in whatever stderr is captured then (a test counting error lines
  failed that way, depending on which tests ran before it in its process).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REALTIME_DIRS = (TESTS / "integration", TESTS / "browser")
REALTIME_MARKERS = ("anvil", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path))
        if (any(path.is_relative_to(d) for d in REALTIME_DIRS)
                or any(item.get_closest_marker(m) for m in REALTIME_MARKERS)):
            item.add_marker(pytest.mark.realtime)
    # stable: the slow tests first, each group in collection order (the same on every worker)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@contextlib.contextmanager
def root_logger_put_back() -> Iterator[None]:
    """Inside: anything. After: the root logger's level as before, and no stream handler that
    was not there before (pytest's own capture handlers are left to pytest)."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in before and type(handler) is logging.StreamHandler:
                root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture(autouse=True)
def _root_logger_put_back() -> Iterator[None]:
    with root_logger_put_back():
        yield
