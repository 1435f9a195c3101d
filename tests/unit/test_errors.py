"""The exception taxonomy: deliberate errors are BridgeErrors, user errors are ValueErrors."""

from bridge.errors import AuditError, BridgeError, ConfigError, InvalidBidError, SettlementRejected


def test_user_errors_are_value_errors_and_bridge_errors() -> None:
    for cls in (ConfigError, InvalidBidError):
        err = cls("bad")
        assert isinstance(err, ValueError)
        assert isinstance(err, BridgeError)


def test_audit_error_names_the_check() -> None:
    err = AuditError("budget_balance", "charges 5 < payouts 7")
    assert err.check == "budget_balance"
    assert str(err) == "budget_balance: charges 5 < payouts 7"


def test_settlement_rejected_formats_decoded_fields() -> None:
    err = SettlementRejected("CommitmentMismatch", {"round": 3, "index": 1}, tx="0xab")
    assert str(err) == "CommitmentMismatch(round=3, index=1) in 0xab"
    assert err.args_ == {"round": 3, "index": 1}
