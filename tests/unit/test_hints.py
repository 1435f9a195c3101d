"""The hints table: one for the CLI and the web app, rendered the same way from decoded errors."""

from __future__ import annotations

import json

from bridge.chain.artifacts import load_artifact
from bridge.hints import HINTS, WEB_PROTOCOL, hint, render, web_protocol


def _error_inputs() -> dict[str, list[str]]:
    return {e["name"]: [i["name"] for i in e["inputs"]]
            for e in load_artifact("ProverMarket").abi if e["type"] == "error"}


def test_every_hint_names_a_real_error_and_only_its_arguments() -> None:
    errors = _error_inputs()
    for name, entry in HINTS.items():
        assert name in errors, f"{name} is not an error of ProverMarket"
        args = {arg: 1 for arg in errors[name]}
        assert render(entry["text"], args)  # KeyError if a placeholder is not an argument


def test_hints_fill_differences_times_and_bytes32_text() -> None:
    assert hint("InsufficientBalance", {"account": "0x", "available": 3, "required": 10},
                cli=False) == "deposit 7 wei more"
    assert hint("InsufficientBalance", {"account": "0x", "available": 3, "required": 10}) == \
        "deposit 7 wei more (`bridge requester deposit`, or bid with --top-up)"
    # amounts as people read them, with the exact wei to type back; the boundaries of the units
    assert hint("InsufficientBalance", {"account": "0x", "available": 10**9,
                                        "required": 10**9 + 10**6}, cli=False) == \
        "deposit 0.001 gwei (1000000 wei) more"
    assert hint("InsufficientBalance", {"account": "0x", "available": 1,
                                        "required": 10**6}, cli=False) == \
        "deposit 999999 wei more"
    assert hint("EscrowTooSmall", {"minimum": 3 * 10**14}) == \
        "the market's minimum escrow is 300000 gwei (300000000000000 wei)"
    assert hint("EscrowTooSmall", {"minimum": 10**15}) == \
        "the market's minimum escrow is 0.001 ether (1000000000000000 wei)"
    text = hint("CollateralLockedByAsk", {"prover": "0x", "round": 4, "unlocksBy": 86400})
    assert text is not None and "round 4" in text and "1970-01-02 00:00:00 UTC" in text
    field = b"proofDeadline".ljust(32, b"\0")
    assert hint("JobNotInRound", {"round": 1, "jobIndex": 2, "field": field}, cli=False) == \
        ("the job's proofDeadline is not the settlement's: rebuild the job from the round's "
         "BidsSettled logs")
    assert hint("Overcharged", {"round": 1, "index": 2}) is None  # keeper-side: no user hint


def test_the_web_apps_generated_protocol_file_is_current() -> None:
    """web/src/generated/protocol.json is what the web app imports: the same hints, the ABI the
    Python client uses. Regenerate with `python -m bridge.hints --write`."""
    assert WEB_PROTOCOL.read_text() == web_protocol(), \
        "stale: run .venv/bin/python -m bridge.hints --write"
    data = json.loads(WEB_PROTOCOL.read_text())
    assert data["hints"] == HINTS
    assert data["abi"] == load_artifact("ProverMarket").abi
