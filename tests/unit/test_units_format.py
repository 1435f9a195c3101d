"""The one formatter for amounts and times (issue 22, item 7): exact at every boundary."""

from __future__ import annotations

import pytest

from bridge.units import format_duration, format_relative, format_time, format_wei, parse_amount


@pytest.mark.parametrize(("wei", "text"), [
    (0, "0 wei"),
    (1, "1 wei"),
    (999_999, "999999 wei"),                      # below 0.001 gwei: wei
    (1_000_000, "0.001 gwei"),                    # the gwei floor
    (10**9, "1 gwei"),
    (90 * 10**9, "90 gwei"),
    (100_582_433_850, "100.58243385 gwei"),
    (10**15 - 1, "999999.999999999 gwei"),       # one wei below the ether floor, still exact
    (10**15, "0.001 ether"),                      # the ether floor
    (15 * 10**17, "1.5 ether"),
    (10**18 + 1, "1.000000000000000001 ether"),   # never rounded
    (-90 * 10**9, "-90 gwei"),
])
def test_format_wei_is_exact_at_its_boundaries(wei: int, text: str) -> None:
    assert format_wei(wei) == text
    if wei >= 0:  # the text types back to the same wei
        assert parse_amount(text.replace(" ", "")) == wei


def test_format_wei_exact_appends_the_wei_only_when_another_unit_shows() -> None:
    assert format_wei(90 * 10**9, exact=True) == "90 gwei (90000000000 wei)"
    assert format_wei(10**15, exact=True) == "0.001 ether (1000000000000000 wei)"
    assert format_wei(5, exact=True) == "5 wei"


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (1, "1s"), (59, "59s"), (60, "1m"), (61, "1m 1s"), (130, "2m 10s"),
    (3599, "59m 59s"), (3600, "1h"), (3601, "1h"), (3660, "1h 1m"), (86_399, "23h 59m"),
    (86_400, "1d"), (90_000, "1d 1h"), (-130, "-2m 10s"),
])
def test_format_duration_boundaries(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_times_are_utc_with_in_and_ago() -> None:
    ts = 1_764_826_810  # 2025-12-04 05:40:10 UTC
    assert format_time(ts, now=ts - 130) == "2025-12-04 05:40:10 UTC (in 2m 10s)"
    assert format_time(ts, now=ts + 120) == "2025-12-04 05:40:10 UTC (2m ago)"
    assert format_relative(ts, now=ts) == "now"
    assert format_relative(ts, now=ts - 1) == "in 1s"
