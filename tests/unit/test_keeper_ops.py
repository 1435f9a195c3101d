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


def test_keeper_logging_keeps_apscheduler_quiet_at_info_but_not_its_warnings() -> None:
    """The tick job runs every poll interval: APScheduler's per-run INFO lines ("Running job",
    "executed successfully") must not reach the keeper's log, its warnings (missed runs) must."""
    import io
    import logging

    from apscheduler.schedulers.background import BackgroundScheduler

    from bridge.keeper.logfmt import configure_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("apscheduler").level,
             logging.getLogger("bridge").level)
    try:
        logging.getLogger("bridge").setLevel(logging.NOTSET)  # an in-process demo may have set it
        configure_logging("INFO", "text")
        stream = io.StringIO()
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        ran = []
        scheduler = BackgroundScheduler()
        scheduler.add_job(lambda: ran.append(1), "interval", seconds=0.05)
        scheduler.start()
        deadline = time.time() + 60
        while len(ran) < 3 and time.time() < deadline:
            time.sleep(0.02)
        scheduler.shutdown()
        logging.getLogger("bridge.keeper.daemon").info("tick done")
        logging.getLogger("apscheduler.executors.default").warning("Run time of job was missed")
        out = stream.getvalue()
        assert len(ran) >= 3
        assert "tick done" in out and "was missed" in out
        assert "Running job" not in out and "executed successfully" not in out, out
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
        logging.getLogger("apscheduler").setLevel(saved[2])
        logging.getLogger("bridge").setLevel(saved[3])
