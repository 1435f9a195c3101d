"""Two keeper processes on one PostgreSQL: only the advisory-lock holder acts; SIGKILL it and the
standby takes over within its poll interval (configurable) and settles the next round."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import KeeperProcess, PostgresCluster
from tests.integration.harness import make_scene

pytestmark = pytest.mark.anvil


def test_standby_keeper_takes_over_when_the_leader_is_killed(
        anvil: Any, postgres: PostgresCluster, tmp_path: Path,
        keepers: list[KeeperProcess]) -> None:
    node = anvil(block_time=1, mixed=True)
    scene = make_scene(node, tmp_path, commit_period=600, settle_period=600, proof_period=600)
    scene.setup()
    db = postgres.new_database()
    poll = 0.5
    a = KeeperProcess(tmp_path, node.url, scene.record, db, poll_interval=poll, name="a")
    b = KeeperProcess(tmp_path, node.url, scene.record, db, poll_interval=poll, name="b")
    keepers.extend([a, b])
    a.start()
    scene.wait_until(lambda: "leader lock acquired" in a.output(), 60, "keeper a leading")
    b.start()
    scene.wait_until(lambda: "standby:" in b.output(), 60, "keeper b standing by")

    node.travel_to(scene.market.params.closes_at(scene.market.current_round()) + 1)
    r1 = scene.commit()
    node.travel_to(scene.market.params.closes_at(r1) + 1)
    scene.wait_until(lambda: scene.status(r1) == 1, 60, f"round {r1} settled by a")
    # the keeper logs the settlement just after the chain shows it: wait for the line
    scene.wait_until(lambda: f"round {r1} settled" in a.output(), 30, "keeper a's log line")
    assert not re.search(r"round \d+ (settled|cleared|:)", b.output()), b.output()[-2000:]
    assert "broadcast tx" not in b.output()

    a.kill()
    killed = time.monotonic()
    scene.wait_until(lambda: "leader lock acquired" in b.output(), 30, "keeper b taking over",
                     poll=0.05)
    takeover = time.monotonic() - killed
    assert takeover < 10 * poll + 5, f"takeover took {takeover:.1f}s"

    r2 = scene.commit()
    node.travel_to(scene.market.params.closes_at(r2) + 1)
    scene.wait_until(lambda: scene.status(r2) == 1, 60, f"round {r2} settled by b")
    scene.wait_until(lambda: f"round {r2} settled" in b.output(), 30, "keeper b's log line")
    outcomes = scene.round_outcomes()
    assert all(v == ["RoundSettled"] for v in outcomes.values()), outcomes
    assert scene.lost_bids() == [] and scene.ledger_problems() == []
    assert b.stop() == 0
