"""What to do about each custom error of the market: one table for every client.

The CLI prints these after a decoded revert (:func:`hint`); the web app reads the same table from
``web/src/generated/protocol.json``, which :func:`web_protocol` writes (``python -m bridge.hints
--write``; a unit test fails when the committed file is stale). A hint is data, not code, so
both clients render it the same way:

``text``  what to do, with ``{placeholders}`` filled from the error's arguments: ``{name}`` the
          argument as a decimal integer or string, ``{a-b}`` the difference of two integer
          arguments, ``{name:when}`` a chain timestamp as UTC time, ``{name:text}`` a ``bytes32``
          as the ASCII text it holds, ``{name:wei}`` or ``{a-b:wei}`` an amount as gwei or ether
          with its exact wei (:func:`bridge.units.format_wei`).
``cli``   the command that does it, appended by the CLI only (the web app has a button for it).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from bridge.units import format_wei

HINTS: dict[str, dict[str, str]] = {
    "CommitsPaused": {"text": "the owner paused new commitments; try again later "
                              "(withdrawals still work)"},
    "RoundNotOpen": {"text": "round {round} no longer accepts commitments; commit to round "
                             "{current}", "cli": "omit --round"},
    "InsufficientBalance": {"text": "deposit {required-available:wei} more",
                            "cli": "`bridge requester deposit`, or bid with --top-up"},
    "InsufficientCollateral": {"text": "stake {required-collateral:wei} more, or lower your "
                                       "capacity", "cli": "`bridge prover stake`"},
    "CollateralBacksCapacity": {"text": "{capacity} units of capacity hold that collateral: "
                                        "lower capacity first, or exit (capacity 0 and "
                                        "withdraw in one call: {withdrawable:wei})",
                                "cli": "`bridge prover exit`"},
    "NoCapacity": {"text": "declare capacity first",
                   "cli": "`bridge prover capacity UNITS`"},
    "AskAlreadyCommitted": {"text": "one ask per prover per round: ask again next round"},
    "CapacityChangeTooSoon": {"text": "capacity may change again from round {allowedFrom}"},
    "CapacityChangeTooLarge": {"text": "capacity may change at most capacityFactor-fold at a "
                                       "time (from {from}): step there over several rounds"},
    "CapacityTooLarge": {"text": "declare fewer units"},
    "CapacityLockedByAsk": {"text": "your ask in round {round} may still be settled: change "
                                    "capacity once it is settled, at the latest from "
                                    "{unlocksBy:when}"},
    "CollateralLockedByAsk": {"text": "your ask in round {round} is not settled yet: withdraw "
                                      "once the keeper settles it, at the latest from "
                                      "{unlocksBy:when}"},
    "RoundFull": {"text": "round {round} holds its maximum {cap} commitments on this side: "
                          "commit in the next round"},
    "EscrowTooSmall": {"text": "the market's minimum escrow is {minimum:wei}"},
    "ProofDeadlinePassed": {"text": "too late to prove: the job can only be slashed now"},
    "JobAlreadyResolved": {"text": "the job was already proven or slashed"},
    "JobNotInRound": {"text": "the job's {field:text} is not the settlement's: rebuild the job "
                              "from the round's BidsSettled logs",
                      "cli": "`bridge prover jobs`"},
    "NotJobProver": {"text": "only the assigned prover may prove it",
                     "cli": "`bridge prover jobs`"},
    "ProofRejected": {"text": "the verifier rejected the proof: check it, or let the client "
                              "compute a proof of work", "cli": "omit --proof"},
    "ZeroAmount": {"text": "use an amount above 0"},
    "OpaqueTaskRefused": {"text": "this market trades circuit tasks: bid with a circuit and its "
                                  "inputs", "cli": "--circuit and --input"},
    "CircuitTasksUnsupported": {"text": "this market's tasks are opaque: bid with a task word",
                                "cli": "--task"},
    "RoundNotSettled": {"text": "the round is not settled yet: wait for the keeper"},
    "ProofDeadlineNotReached": {"text": "the job may be slashed only from {deadline:when}"},
    "VoidTooEarly": {"text": "the round may be voided only after its settle deadline "
                             "{deadline:when}"},
    "RoundAlreadyFinal": {"text": "the round is already settled or voided"},
}

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)(?:-([A-Za-z0-9_]+))?(?::(when|text|wei))?\}")


def _text_of(value: Any) -> str:
    raw = bytes(value) if isinstance(value, bytes | bytearray) else b""
    if isinstance(value, str) and value.startswith("0x"):
        raw = bytes.fromhex(value[2:])
    return raw.rstrip(b"\0").decode("ascii", "replace")


def render(template: str, args: dict[str, Any]) -> str:
    """Fill ``template``'s placeholders from a decoded error's ``args`` (KeyError if one is
    missing)."""
    def one(m: re.Match[str]) -> str:
        name, minus, fmt = m.group(1), m.group(2), m.group(3)
        value = args[name]
        if minus is not None:
            value = int(value) - int(args[minus])
        if fmt == "wei":
            return format_wei(int(value), exact=True)
        if minus is not None:
            return str(value)
        if fmt == "when":
            return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(value)))
        if fmt == "text":
            return _text_of(value)
        return str(value)

    return _PLACEHOLDER.sub(one, template)


def hint(name: str, args: dict[str, Any], *, cli: bool = True) -> str | None:
    """The hint for error ``name`` with ``args`` (None when the table has none or it does not
    render); ``cli`` appends the command that does it."""
    entry = HINTS.get(name)
    if entry is None:
        return None
    try:
        text = render(entry["text"], args)
    except (KeyError, TypeError, ValueError):
        return None
    if cli and "cli" in entry:
        text += f" ({entry['cli']})"
    return text


WEB_PROTOCOL = Path(__file__).resolve().parents[1] / "web" / "src" / "generated" / "protocol.json"
"""What the web app imports: the market's ABI, its hash and the hints table."""


def web_protocol() -> str:
    """The contents of :data:`WEB_PROTOCOL` (ABI without bytecode, ABI hash, hints)."""
    from bridge.chain.artifacts import load_artifact
    from bridge.chain.deployment import abi_hash

    abi = load_artifact("ProverMarket").abi
    data = {"generatedBy": "python -m bridge.hints --write", "abiHash": abi_hash(abi),
            "abi": abi, "hints": HINTS}
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    """``--write``: regenerate :data:`WEB_PROTOCOL`; else exit 1 when it is stale."""
    current = web_protocol()
    if "--write" in argv:
        WEB_PROTOCOL.parent.mkdir(parents=True, exist_ok=True)
        WEB_PROTOCOL.write_text(current)
        print(f"wrote {WEB_PROTOCOL}")
        return 0
    if not WEB_PROTOCOL.is_file() or WEB_PROTOCOL.read_text() != current:
        print(f"{WEB_PROTOCOL} is stale: run python -m bridge.hints --write")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
