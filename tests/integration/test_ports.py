"""Ports under parallel test workers: each node and server gets its own, and a node never takes
another's answer for its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.chain.anvil import ANVIL, Anvil, free_port

pytestmark = pytest.mark.anvil


def test_a_port_handed_to_another_process_is_not_handed_out_again() -> None:
    code = "from bridge.chain.anvil import free_port\nprint(*[free_port() for _ in range(40)])"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=60)
    theirs = {int(p) for p in other.stdout.split()}
    mine = [free_port() for _ in range(40)]
    assert len(theirs) == 40 and len(set(mine)) == 40
    assert theirs.isdisjoint(mine)


def test_a_node_whose_port_is_taken_fails_instead_of_using_the_other_node(tmp_path: Path) -> None:
    if not os.access(ANVIL, os.X_OK):
        pytest.skip(f"anvil is not installed at {ANVIL}: run `npm ci` (make test does)")
    first = Anvil(tmp_path, block_time=None).start()
    try:
        (tmp_path / "second").mkdir()
        second = Anvil(tmp_path / "second", block_time=None, port=first.port)
        with pytest.raises(RuntimeError, match="anvil exited"):
            second.start()
        assert first.block_number() == 0  # the first node is untouched and still answers
    finally:
        first.stop()
