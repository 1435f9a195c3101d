"""The ABIs in ``abi/`` and ``docs/reference/abi.md`` are generated from the committed artifacts
(``python -m bridge.chain.abidoc --write``) and must not go stale."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from eth_utils import event_abi_to_log_topic, function_abi_to_4byte_selector

from bridge.chain.abidoc import (
    ABI_DIR,
    REFERENCE,
    SHIPPED,
    contract_sources,
    load_abi,
    natspec,
    selector,
)
from bridge.chain.deployment import abi_hash

REPO = Path(__file__).resolve().parents[2]


def test_the_abi_files_and_the_reference_are_fresh() -> None:
    done = subprocess.run([sys.executable, "-m", "bridge.chain.abidoc", "--check"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_each_shipped_abi_is_the_artifacts_and_hashes_to_the_records_abi_hash() -> None:
    for name in SHIPPED:
        shipped = json.loads((ABI_DIR / f"{name}.json").read_text())
        assert shipped == load_abi(name)
        assert abi_hash(shipped) == abi_hash(load_abi(name))
    text = REFERENCE.read_text()
    assert f"`{abi_hash(load_abi('ProverMarket'))}`" in text


def test_selectors_and_topics_agree_with_eth_utils() -> None:
    for name in SHIPPED:
        for item in load_abi(name):
            if item["type"] in ("function", "error"):
                assert selector(item) == "0x" + function_abi_to_4byte_selector(item).hex()
            elif item["type"] == "event":
                assert selector(item) == "0x" + event_abi_to_log_topic(item).hex()


def test_the_reference_names_the_fields_a_client_decodes() -> None:
    text = REFERENCE.read_text()
    start = text.index("#### `BidCommitted`")
    block = text[start:text.index("####", start + 5)]
    assert "| 2 | `index` | `uint256` | no |" in block  # BidCommitted.index, not indexed
    assert "| 0 | `round` | `uint256` | yes |" in block
    for name in ("#### `ProofAccepted`", "#### `JobSlashed`", "#### `Job`", "#### `submitProof`"):
        assert name in text
    # NatSpec from the interface: the notice and each @param
    assert "Public upper bound on the sealed value." in text


def test_natspec_is_read_from_each_contracts_own_sources() -> None:
    specs = natspec(contract_sources("ProverMarket"))
    bid = specs[("function", "commitBid")]
    assert bid.params["escrow"] == "Public upper bound on the sealed value."
    assert specs[("event", "BidCommitted")].notice.startswith("A sealed bid")
    assert "Merkle root" in specs[("struct", "Job")].notice
    # the posted-price market documents its own functions, not the sealed-bid market's
    posted = contract_sources("PostedPriceMarket")
    assert posted[0].name == "IPostedPriceMarket.sol"
    assert all(p.name not in ("IProverMarket.sol", "ProverMarket.sol") for p in posted)


def test_protocol_md_names_each_event_a_client_reads_with_the_abis_fields() -> None:
    """The prose of docs/integrating/protocol.md lists events with their fields in order; they
    must be the ABI's, so a renamed or reordered field fails here."""
    text = (REPO / "docs" / "integrating" / "protocol.md").read_text()
    assert "abi/ProverMarket.json" in text and "../reference/abi.md" in text
    events = {i["name"]: [p["name"] for p in i["inputs"]]
              for i in load_abi("ProverMarket") if i["type"] == "event"}
    listed = [(name, fields) for name, fields
              in re.findall(r"^- `(\w+)\(([^)]*)\)`", text, flags=re.MULTILINE)
              if name in events]
    named = {name for name, _ in listed}
    assert {"BidCommitted", "AskCommitted", "BidsSettled", "ProofAccepted", "JobSlashed"} <= named
    for name, fields in listed:
        shown = [f.strip() for f in fields.split(",") if f.strip() not in ("", "…")]
        assert shown == events[name][:len(shown)], (name, shown, events[name])
    job = next(i for i in load_abi("ProverMarket")
               if i["type"] == "function" and i["name"] == "submitProof")["inputs"][1]
    para = text[text.index("A job is the `Job` struct"):]
    para = para[:para.index("\n\n")]
    positions = [para.index(f"`{c['name']}`") for c in job["components"]]
    assert positions == sorted(positions)  # the Job struct's fields, all, in order
    assert "`BidCommitted.index`" in text
