"""The `maillage` command: each domain registers its own sub-commands here."""

from __future__ import annotations

import typer
from typer import rich_utils

#: The help screens' own words in French (Typer's panel titles and markers; Click's "Usage" and
#: "Show this message and exit." have no setting and stay in English).
rich_utils.DEFAULT_STRING = "[défaut : {}]"
rich_utils.REQUIRED_LONG_STRING = "[obligatoire]"
rich_utils.ENVVAR_STRING = "[variable d'environnement : {}]"
rich_utils.ARGUMENTS_PANEL_TITLE = "Arguments"
rich_utils.OPTIONS_PANEL_TITLE = "Options"
rich_utils.COMMANDS_PANEL_TITLE = "Commandes"
rich_utils.ERRORS_PANEL_TITLE = "Erreur"
rich_utils.ABORTED_TEXT = "Interrompu."

app = typer.Typer(
    name="maillage",
    help="Accès aux soins, planification de sites et réseau de télémédecine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """maillage : diagnostic de l'accès aux soins, planification de sites, réseau de
    télémédecine (le texte d'aide de la commande, en français)."""


def _register_commands() -> None:
    """Each domain adds its own commands; imports stay light until a command runs."""
    from maillage.admin import (
        plan_sources,
        practitioner_commands,
        server_commands,
        site_commands,
    )
    from maillage.datasets import commands as dataset_commands
    from maillage.demo import commands as demo_commands
    from maillage.diagnosis import commands as diagnosis_commands
    from maillage.jobs import commands as jobs_commands
    from maillage.planning import commands as planning_commands
    from maillage.reports import commands as report_commands

    diagnosis_commands.register(app)
    planning_commands.register(app, plan_sources.EXISTING_SOURCES)
    dataset_commands.register(app)
    server_commands.register(app)
    site_commands.register(app)
    practitioner_commands.register(app)
    jobs_commands.register(app)
    report_commands.register(app)
    demo_commands.register(app)


_register_commands()

if __name__ == "__main__":
    app()
