"""Suite-wide: which tests run against wall-clock time, and the order the slow ones start in.

- ``realtime``: set here on every test under ``tests/integration`` and ``tests/browser`` and on
  every test marked ``anvil`` or ``browser`` (a node, processes, a browser); a test elsewhere that
  waits on the clock says so itself with ``@pytest.mark.realtime``. ``make check`` runs the
  suite with ``-m "not realtime"``; ``make test`` runs all of it (no marker expression), so a test
  can be left out of the fast tier but never out of the full one.
- ``slow`` tests are moved to the front of the run: with ``pytest -n 2 --dist worksteal`` the long
  ones start first and the short ones fill in around them, so both workers finish together.
"""

from __future__ import annotations

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
