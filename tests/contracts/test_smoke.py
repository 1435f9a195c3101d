from tests.contracts.conftest import Accounts
from tests.contracts.flow import Driver


def test_full_round_settles_proves_and_slashes(proofphi: Driver, accounts: Accounts) -> None:
    m = proofphi
    m.prover_ready(accounts.p1, 1)
    m.prover_ready(accounts.p2, 1)
    r = m.next_round()
    m.commit_bid(r, accounts.r1, 10**16)
    m.commit_bid(r, accounts.r2, 9 * 10**15)
    m.commit_bid(r, accounts.r3, 10**15)
    m.commit_ask(r, accounts.p1, 10**14)
    m.commit_ask(r, accounts.p2, 2 * 10**14)
    s = m.clear_and_settle(r)
    print(s.entries, [b.charge for b in s.bids], s.receipt["gasUsed"])
    assert m.eth_balance() == sum(m.liabilities())
    m.prove(s, 0)
    assert m.eth_balance() == sum(m.liabilities())
