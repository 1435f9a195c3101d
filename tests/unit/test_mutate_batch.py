"""The mutant batch runner of ``bench/mutate.py`` (``make mutate``): one pytest process tests
mutant after mutant, each by its switches, on a tiny project of its own (real pytest processes).

Each job's verdict: killed by its first failing test (one that fails again under the mutant and
passes without it), survived when all pass, timeout when a test overruns its limit, error when the
process dies (the worker is replaced and the queue goes on); a mutant that allocates without end
meets the process's memory limit (a MemoryError: killed); a wide fixture is rebuilt under a
mutant only when its job says ``isolate``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_mutate_harness import mutate

TESTS = '''\
import builtins
import os
import time
from pathlib import Path

import pytest

if builtins._MUTATE_SW == 6:  # a mutant evaluated at import
    raise ImportError("mutant 6")


@pytest.fixture(scope="session")
def built():
    return builtins._MUTATE_SW  # the engine switch when the session fixture was made


def test_fast():
    assert builtins._MUTATE_SW != 1


def test_contract_switch():
    assert os.environ["MUTATE_SWITCH"] != "2"


def test_wide(built):
    assert built != 3


def test_slow():
    if builtins._MUTATE_SW == 4:
        time.sleep(60)


def test_flaky():
    mark = Path(os.environ["FLAKY_MARK"])
    first = not mark.exists()
    mark.touch()
    assert not (first and builtins._MUTATE_SW == 7)  # fails once, then passes


def test_broken():
    assert builtins._MUTATE_SW not in (0, 8)  # fails with or without mutant 8


def test_hungry():
    hoard = []
    while builtins._MUTATE_SW == 9:  # a mutant that allocates without end
        hoard.append(bytearray(50_000_000))


def test_exit():
    if builtins._MUTATE_SW == 5:
        os._exit(3)
'''


@pytest.mark.realtime  # pytest processes
def test_jobs_get_their_verdicts_and_a_dead_worker_is_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAKY_MARK", str(tmp_path / "flaky-ran"))
    monkeypatch.setattr(mutate, "BATCH_MEMORY", 1 << 30)  # a MemoryError in a second or so
    root = tmp_path / "copy"
    (root / "bridge").mkdir(parents=True)
    (root / "bridge" / "__init__.py").write_text("")
    (root / "test_x.py").write_text(TESTS)
    plugins = tmp_path / "copy-plugin"
    plugins.mkdir()
    for name, text in (("mutate_plugin.py", mutate._PLUGIN), ("mutate_batch.py",
                       mutate._BATCH_PLUGIN), ("sitecustomize.py", mutate._SITECUSTOMIZE)):
        (plugins / name).write_text(text)
    ws = mutate.Workspace(repo=root, root=root, python=sys.executable)
    runner = mutate.BatchRunner(ws, tmp_path / "q", test_timeout=30, timeout=60,
                                tests=["test_x.py", "-p", "no:randomly"])
    t = "test_x.py::"
    jobs: dict[str, dict[str, Any]] = {
        "01-built-under-0": {"tests": [t + "test_wide"], "engine": 0},
        "02-engine": {"tests": [t + "test_contract_switch", t + "test_fast", t + "test_wide"],
                      "engine": 1},
        "03-contract": {"tests": [t + "test_fast", t + "test_contract_switch"], "contract": 2},
        "04-kept": {"tests": [t + "test_wide"], "engine": 3},
        "05-isolated": {"tests": [t + "test_wide"], "engine": 3, "isolate": True},
        "06-after-isolated": {"tests": [t + "test_wide", t + "test_fast"], "engine": 0},
        "07-slow": {"tests": [t + "test_slow", t + "test_fast"], "engine": 4,
                    "limits": {t + "test_slow": 2}},
        "08-dies": {"tests": [t + "test_fast", t + "test_exit"], "engine": 5},
        "09-after-death": {"tests": [t + "test_fast", "test_x.py::not_collected"], "engine": 0},
        "11-flaky": {"tests": [t + "test_flaky", t + "test_fast"], "engine": 7},
        "12-broken-anyway": {"tests": [t + "test_broken", t + "test_fast"], "engine": 8},
        "13-hungry": {"tests": [t + "test_hungry"], "engine": 9},
    }
    for name, job in jobs.items():
        runner.put(name, job)
    got: dict[str, dict[str, Any]] = {}
    runner.run(1, lambda name, verdict: got.__setitem__(name, verdict))
    assert {n: v["status"] for n, v in got.items()} == {
        "01-built-under-0": "survived", "02-engine": "killed", "03-contract": "killed",
        "04-kept": "survived", "05-isolated": "killed", "06-after-isolated": "survived",
        "07-slow": "timeout", "08-dies": "error", "09-after-death": "survived",
        "11-flaky": "survived", "12-broken-anyway": "survived", "13-hungry": "killed"}
    assert "MemoryError" in got["13-hungry"]["note"]
    assert "test_flaky (passed on a second run under it)" in got["11-flaky"]["note"]
    assert "test_broken (fails without the mutant)" in got["12-broken-anyway"]["note"]
    assert got["02-engine"]["by"] == t + "test_fast" and got["02-engine"]["ran"] == 2
    assert got["03-contract"]["by"] == t + "test_contract_switch"
    assert "exited (3)" in got["08-dies"]["note"]
    assert got["09-after-death"]["missing"] == ["test_x.py::not_collected"]
    assert runner.n == 2  # the worker that died was replaced once

    # a mutant that runs at import: a process of its own, switched from the start
    own = mutate.BatchRunner(ws, tmp_path / "q6", test_timeout=3, timeout=60,
                             tests=["test_x.py"])
    own.put("10-import", {"tests": [t + "test_fast"], "engine": 6})
    own.run(1, lambda name, verdict: got.__setitem__(name, verdict),
            {"MUTATE_ENGINE_SWITCH": "6"})
    assert got["10-import"]["status"] == "killed" and got["10-import"]["by"] == "<collection>"
