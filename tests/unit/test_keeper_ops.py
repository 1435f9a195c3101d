"""Keeper operations: /metrics and /healthz over real HTTP, and JSON log lines.

The store and the leader lock are tested on SQLite and PostgreSQL in tests/integration."""

import json
import time
import urllib.error
import urllib.request

from bridge.keeper.metrics import HealthServer, KeeperMetrics


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_metrics_and_health_endpoints_report_the_loop() -> None:
    metrics = KeeperMetrics()
    server = HealthServer(metrics, "127.0.0.1", 0, stale_after=30).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        code, body = _get(base + "/healthz")
        assert code == 503 and json.loads(body)["ok"] is False
        metrics.rounds_settled.inc()
        metrics.bids_invalid.labels(side="bid", reason="undecryptable").inc(2)
        metrics.last_tick.set(time.time())
        code, body = _get(base + "/healthz")
        assert code == 200 and json.loads(body)["ok"] is True
        code, body = _get(base + "/metrics")
        text = body.decode()
        assert code == 200
        assert "bridge_rounds_settled_total 1.0" in text
        assert 'bridge_bids_invalid_total{reason="undecryptable",side="bid"} 2.0' in text
    finally:
        server.stop()


def test_json_log_lines_carry_level_logger_message_and_traceback() -> None:
    import logging

    from bridge.keeper.logfmt import JsonFormatter

    fmt = JsonFormatter()
    record = logging.makeLogRecord({"name": "bridge.keeper.pipeline", "levelname": "WARNING",
                                    "msg": "round %s voided", "args": (7,), "round": 7})
    line = json.loads(fmt.format(record))
    assert line["level"] == "warning" and line["logger"] == "bridge.keeper.pipeline"
    assert line["msg"] == "round 7 voided" and line["round"] == 7
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.makeLogRecord({"msg": "tick failed", "exc_info": sys.exc_info()})
    assert "ValueError: boom" in json.loads(fmt.format(record))["exc"]
