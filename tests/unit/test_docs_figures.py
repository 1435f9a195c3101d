"""Figures quoted in the docs are the benchmarks' (``bench/results/*.json``): the gas tables of
the contract and circuit pages and the keeper's latency table, cell by cell. A re-run bench that
moves a figure fails here until the page says the new number."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _json(name: str) -> dict:
    return json.loads((REPO / "bench" / "results" / f"{name}.json").read_text())


def _rows(page: str) -> dict[str, list[str]]:
    """Table rows of a page: first cell → the other cells."""
    rows = {}
    for line in (REPO / page).read_text().splitlines():
        if line.startswith("|") and not re.match(r"^\|[-:| ]+\|$", line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def _gas(n: int) -> str:
    return f"{n:,}"


def _row(rows: dict[str, list[str]], start: str) -> list[str]:
    (key,) = [k for k in rows if k.startswith(start)]
    return rows[key]


GAS_TABLE = {  # docs/design/contract.md: the first words of a row → its bench/results/gas.json key
    "commitBid, mean over a round": "commitBid",
    "commitAsk": "commitAsk",
    "settle per bid, DARA": "settle_per_bid_dara",
    "settle per bid, Prooφ": "settle_per_bid_proofphi",
    "settle per bid, fixedprice": "settle_per_bid_fixedprice",
    "settle per bid settled as invalid": "settle_per_bid_dara_all_invalid",
    "void per bid": "void_per_bid",
    "submitProof (verifier excluded)": "submitProof",
    "slash": "slash",
    "withdraw": "withdraw",
}


def _check_gas_column(page: str, table: dict[str, str]) -> dict[str, list[str]]:
    """Each row of ``page`` that ``table`` names shows its gas.json figure first; the rows."""
    gas = _json("gas")
    rows = _rows(page)
    for start, key in table.items():
        assert _row(rows, start)[0] == _gas(gas[key]), (page, start, key, gas[key])
    return rows


def test_the_gas_table_is_bench_gas_json() -> None:
    gas = _json("gas")
    _check_gas_column("docs/design/contract.md", GAS_TABLE)
    text = (REPO / "docs" / "design" / "contract.md").read_text()
    assert f"median {_gas(gas['commitBid_median'])}" in text
    for key in ("commitBid_first_in_round", "commitAsk_first_in_round", "commitBid_checkpoint",
                "settle_per_bid_dara_300x1to20u", "settle_per_bid_proofphi_300"):
        assert _gas(gas[key]) in text, key
    assert f"the {_gas(gas['verifier_call_excluded'])} gas its call costs" in text


def test_the_groth16_gas_table_is_bench_gas_json() -> None:
    gas = _json("gas")
    rows = _rows("docs/user/circuits.md")
    assert _row(rows, "`submitProof`, whole transaction")[:2] == [
        _gas(gas["submitProof_groth16"]), _gas(gas["submitProof_groth16_merkle_root_8"])]
    assert _row(rows, "of which the registry")[:2] == [
        _gas(gas["verify_groth16"]), _gas(gas["verify_groth16_merkle_root_8"])]
    assert _row(rows, "`commitTask`")[0] == _gas(gas["commitTask_groth16"])


README_GAS = {  # README.md, "What a proof costs on chain": the first words of a row → its key
    "one proof, verified alone": "submitProof_groth16_generic",
    "one of ten proofs of one circuit": "submitProofs_groth16_batch10_per_proof",
    "one of ten proofs of two circuits": "submitProofs_groth16_batch10_two_circuits_per_proof",
    "a whole job": "job_gas_groth16_batched",
    "registering a circuit": "registerCircuit",
}


def test_the_readme_gas_table_is_bench_gas_json() -> None:
    rows = _check_gas_column("README.md", README_GAS)
    # Boundless's column is its published snapshots (fulfillBatch of 8: 285,609 / 8)
    assert _row(rows, "one of ten proofs of one circuit")[1].startswith(_gas(round(285_609 / 8)))
    assert _row(rows, "a whole job")[1].startswith(_gas(34_349 + 136_582 + 74_214))


CIRCUITS_GAS = {  # docs/user/circuits.md, the batched verification table
    "one proof alone": "submitProof_groth16_generic",
    "per proof, ten of one circuit": "submitProofs_groth16_batch10_per_proof",
    "per proof, ten of two circuits": "submitProofs_groth16_batch10_two_circuits_per_proof",
    "a whole job": "job_gas_groth16_batched",
    "`registerCircuit`": "registerCircuit",
}


def test_the_batch_gas_table_is_bench_gas_json() -> None:
    gas = _json("gas")
    _check_gas_column("docs/user/circuits.md", CIRCUITS_GAS)
    text = (REPO / "docs" / "user" / "prover.md").read_text()
    assert f"{_gas(gas['submitProofs_groth16_batch10_per_proof'])} gas a proof" in text


def test_the_keeper_table_is_bench_keeper_json() -> None:
    rows = [line for line in (REPO / "docs" / "operator" / "deploy.md").read_text().splitlines()
            if line.startswith(("| anvil |", "| eth-tester |"))]
    shown = {tuple(c.strip() for c in r.strip("|").split("|")) for r in rows}
    expected = {(s["chain"], str(s["bids"]), str(s["confirmations"]), f"{s['latency_s']:.2f} s",
                 str(round(s["rounds_per_minute"])))
                for s in _json("keeper")["settlement"]}
    assert shown == expected


def test_the_readmes_welfare_table_is_bench_welfare_json() -> None:
    s = _json("welfare")["summary"]
    rows = _rows("README.md")

    def span(m: dict, lo: str, hi: str) -> str:
        a, b = f"{m[lo]:.2f}", f"{m[hi]:.2f}"
        return ("0" if a == "0.00" else a) if a == b else f"{a}–{b}"

    mechs = ("proofphi", "dara", "fixedprice")
    assert [c.strip("*") for c in _row(rows, "welfare / optimum, 1–5 bids")] == [
        f"{s[m]['thin_mean']:.2f}" for m in mechs]
    assert _row(rows, "welfare / optimum, 1 bid × 1 ask") == [
        span(s[m], "1x1_min", "1x1_max") for m in mechs]
    assert _row(rows, "welfare / optimum, 50 bids") == [
        span(s[m], "50x10_min", "50x10_max") for m in mechs]


def test_the_agents_table_is_bench_agents_json() -> None:
    rows = _rows("docs/user/prover.md")
    for label, kind in (("proof of work", "pow"), ("Groth16 (snarkjs)", "groth16")):
        k = _json("agents")["by_kind"][kind]
        assert rows[label] == [
            str(k["requests"]), str(k["proven"]), str(k["refunded"]), str(k["slashed"]),
            f"{k['latency_median_s']:.2f} s", f"{k['latency_p95_s']:.2f} s",
            f"{k['rounds_per_minute']:.2f} (of 10)",
            f"{k['idle_agent_cpu_percent']:.2f} % of a core"]


def test_the_scale_table_is_bench_scale_json() -> None:
    scale = _json("scale")
    d, p = scale["dara"], scale["proofphi"]
    rows = _rows("docs/design/paged-settlement.md")
    assert _row(rows, "settle transactions") == [str(d["settle_txs"]), str(p["settle_txs"])]
    assert _row(rows, "largest settle transaction") == [
        f"{_gas(m['settle_max_tx_gas'])} / {_gas(m['settle_max_tx_bytes'])}" for m in (d, p)]
    per_bid = _row(rows, "settle gas per bid")
    assert [c.split(" ")[0] for c in per_bid] == [_gas(m["settle_gas_per_bid"]) for m in (d, p)]
    assert _row(rows, "void transactions") == [
        f"{m['void_txs']} / {_gas(m['void_max_tx_gas'])} / {_gas(m['void_max_tx_bytes'])}"
        for m in (d, p)]
    assert _row(rows, "void gas per bid") == [_gas(m["void_gas_per_bid"]) for m in (d, p)]
    assert _row(rows, "close → last page") == [f"{m['close_to_final_s']:.1f} s" for m in (d, p)]


def test_the_mutation_table_is_bench_mutation_json() -> None:
    """docs/design/testing.md's table of the last full mutation run, cell by cell."""
    data = _json("mutation")
    assert data["run"]["sample"] is None and not data["run"]["ids"] and not data["run"]["files"]
    rows = _rows("docs/design/testing.md")
    by: dict[str, dict[str, int]] = {"contracts": {}, "engine": {}}
    for r in data["results"]:
        target = "contracts" if r["file"].startswith("contracts/") else "engine"
        by[target][r["status"]] = by[target].get(r["status"], 0) + 1
    for status in ("killed", "survived", "equivalent", "timeout", "error"):
        c, e = by["contracts"].get(status, 0), by["engine"].get(status, 0)
        assert _row(rows, status) == [str(c), str(e), str(c + e)], status
    assert _row(rows, "mutants") == [str(sum(by["contracts"].values())),
                                     str(sum(by["engine"].values())), str(data["mutants"])]
    assert _row(rows, "score")[2] == f"{data['score']:.1%}"
    minutes = data["run"]["coverage_map"]["wall_seconds"] / 60
    assert f"{minutes:.0f} min" in (REPO / "docs/design/testing.md").read_text()
