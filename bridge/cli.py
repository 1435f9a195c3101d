"""The ``bridge`` command."""

from __future__ import annotations

import typer

app = typer.Typer(help="Sealed-bid prover market: clearing, keeper and participant tools.",
                  no_args_is_help=True)


@app.callback()
def _root() -> None:
    """Sealed-bid prover market: clearing, keeper and participant tools."""


@app.command()
def version() -> None:
    """Print the package version."""
    from bridge import __version__

    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    app()
