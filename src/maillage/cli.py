"""The `maillage` command: each domain registers its own sub-commands here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="maillage",
    help="Access to care, site planning and telemedicine network operations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """maillage: diagnose access to care, plan new sites, run the telemedicine network."""


def _register_commands() -> None:
    """Each domain adds its own commands; imports stay light until a command runs."""
    from maillage.api import commands as server_commands
    from maillage.api import site_commands
    from maillage.datasets import commands as dataset_commands
    from maillage.demo import commands as demo_commands
    from maillage.diagnosis import commands as diagnosis_commands
    from maillage.jobs import commands as jobs_commands
    from maillage.planning import commands as planning_commands
    from maillage.reports import commands as report_commands

    diagnosis_commands.register(app)
    planning_commands.register(app)
    dataset_commands.register(app)
    server_commands.register(app)
    site_commands.register(app)
    jobs_commands.register(app)
    report_commands.register(app)
    demo_commands.register(app)


_register_commands()

if __name__ == "__main__":
    app()
