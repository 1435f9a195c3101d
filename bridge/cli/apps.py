"""The ``bridge`` command tree (the commands register themselves in the sibling modules)."""

from __future__ import annotations

import typer

from bridge.cli.failures import OneLineErrors

app = typer.Typer(cls=OneLineErrors,
                  help="Sealed-bid prover market: demo, keeper and participant tools.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
prover_app = typer.Typer(help="Prover commands: stake, capacity, ask, jobs, prove, withdraw.",
                         no_args_is_help=True)
requester_app = typer.Typer(help="Requester commands: deposit, bid, status, withdraw.",
                            no_args_is_help=True)
round_app = typer.Typer(help="Inspect rounds.", no_args_is_help=True)
keeper_app = typer.Typer(help="Run the keeper daemon.", no_args_is_help=True)
key_app = typer.Typer(help="Create keystore files.", no_args_is_help=True)
app.add_typer(prover_app, name="prover")
app.add_typer(requester_app, name="requester")
app.add_typer(round_app, name="round")
app.add_typer(keeper_app, name="keeper")
app.add_typer(key_app, name="key")
