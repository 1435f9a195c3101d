import pytest

from bridge.errors import SettlementRejected
from tests.contracts.conftest import Accounts
from tests.contracts.flow import Driver


def test_revert_is_decoded_into_named_error(proofphi: Driver, accounts: Accounts) -> None:
    with pytest.raises(SettlementRejected) as info:
        proofphi.send("withdraw", 5, sender=accounts.r1)
    assert info.value.name == "InsufficientBalance"
    assert info.value.args_["required"] == 5
