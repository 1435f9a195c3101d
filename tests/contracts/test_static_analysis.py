"""The slither gate (``make slither``, ``bridge.chain.static_analysis``) finds what it should.

A deliberately flawed vault in a temporary directory goes through the same pipeline as
``contracts/`` (solc-js ASTs → slither's detectors): a run that analysed nothing, or lost the
findings on the way, would pass ``contracts/`` silently and fail here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.chain import static_analysis
from bridge.errors import ConfigError

FLAWED = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

contract Vault {
    mapping(address => uint256) public balanceOf;

    function deposit() external payable {
        balanceOf[msg.sender] += msg.value;
    }

    // Sends before zeroing the balance: the receiver can re-enter and withdraw again.
    function withdraw() external {
        uint256 amount = balanceOf[msg.sender];
        (bool ok,) = msg.sender.call{value: amount}("");
        require(ok);
        balanceOf[msg.sender] = 0;
    }

    function tip(address payable to) external {
        %SUPPRESS%to.send(1);
    }
}
"""


@pytest.fixture(autouse=True)
def _needs_slither() -> None:
    try:
        static_analysis.slither_python()
    except ConfigError as exc:
        pytest.skip(str(exc))


def _write(tmp_path: Path, source: str, name: str = "Vault.sol") -> Path:
    contracts = tmp_path / "src"  # any name: the gate analyses the directory it is given
    contracts.mkdir(exist_ok=True)
    (contracts / name).write_text(source, encoding="utf-8")
    return contracts


def test_gate_reports_reentrancy_and_unchecked_send(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contracts = _write(tmp_path, FLAWED.replace("%SUPPRESS%", ""))
    report = static_analysis.analyse(tmp_path, contracts)
    checks = {f.check for f in report.findings}
    assert {"reentrancy-eth", "unchecked-send"} <= checks
    assert "Vault" in report.contracts
    assert "src/Vault.sol" in report.files
    assert all(f.files == ("src/Vault.sol",) for f in report.findings)

    assert static_analysis.main(["--contracts", str(contracts)]) == 1
    out = capsys.readouterr().out
    assert "reentrancy-eth (High): Reentrancy in Vault.withdraw()" in out
    assert f"; {len(report.findings)} findings" in out


def test_gate_honours_an_in_place_suppression(tmp_path: Path) -> None:
    suppressed = FLAWED.replace(
        "%SUPPRESS%",
        "// A tip may fail: nothing depends on it.\n"
        "        // slither-disable-next-line unchecked-send,arbitrary-send-eth\n        ",
    )
    report = static_analysis.analyse(tmp_path, _write(tmp_path, suppressed))
    checks = {f.check for f in report.findings}
    assert "unchecked-send" not in checks
    assert "reentrancy-eth" in checks
    assert report.stale == ()


def test_gate_fails_on_a_suppression_that_suppresses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = FLAWED.replace(
        "    function deposit()",
        "    // slither-disable-next-line reentrancy-eth\n    function deposit()",
    )
    contracts = _write(tmp_path, stale.replace("%SUPPRESS%", ""))
    report = static_analysis.analyse(tmp_path, contracts)
    assert report.stale == ("src/Vault.sol#7: reentrancy-eth",)
    assert static_analysis.main(["--contracts", str(contracts)]) == 1
    assert "stale suppression: src/Vault.sol#7: reentrancy-eth" in capsys.readouterr().out


def test_gate_says_in_one_line_when_the_sources_do_not_compile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contracts = _write(tmp_path, "pragma solidity ^0.8.28;\ncontract Broken {\n")
    assert static_analysis.main(["--contracts", str(contracts)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: the contracts do not compile:")
