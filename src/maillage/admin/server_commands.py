"""The operator's server commands: serve, db upgrade/reindex/verify-audit/backup/restore,
users create, outbox deliver, sms, share, failed, audit, reminders run.

``cli.py`` calls :func:`register`. The server's libraries are imported when a command runs, so
that ``maillage --help`` and the analytics commands stay fast. These are not HTTP doors: like
``maillage.server`` they compose the parts, so they may open the database themselves (engine,
migrations, index and audit-chain maintenance); accounts are created through ``maillage.care``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from maillage.admin import psc_commands
from maillage.console import settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from maillage.config import Settings

ROLES = "admin, coordinator, planner, site-professional, practitioner or patient"
#: Seconds a stopping server (SIGTERM, Ctrl-C) gives the requests in flight before it abandons
#: them, closes its pools and exits.
GRACEFUL_SHUTDOWN_S = 3


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Worker processes (one Python process uses one core at most)."),
    ] = 1,
) -> None:
    """Run the network server (FHIR API, auth, projects) under uvicorn; migrates first."""
    import uvicorn

    from maillage import http_workers
    from maillage.http_protocol import CoalescedHttpTools

    settings = settings_or_exit()
    if workers > 1:
        # Migrate once here, so that the workers (each reading the same environment) do not race.
        _migrated(settings).dispose()
        if not settings.login_state_url:
            # Sessions and login counters must be shared by the processes: Redis, not memory.
            os.environ["MAILLAGE_LOGIN_STATE_URL"] = "redis://127.0.0.1:6379/0"
    # The composition root by name: uvicorn imports it in each worker process.
    options: dict[str, Any] = dict(
        app="maillage.server:serving_app",
        factory=True,
        host=host,
        port=port,
        # X-Forwarded-For names the client only when the configured proxy sent it: trusting it from
        # anyone (uvicorn's default trusts loopback) would let a caller pick the address that the
        # login limiter counts.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        access_log=settings.access_log,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        http=CoalescedHttpTools,  # a response's headers and body in one write
    )
    if workers == 1:
        uvicorn.run(**options)
    else:  # each worker on a socket of its own, so that connections spread among them
        http_workers.run(uvicorn.Config(**options), workers)


def _migrated(settings: Settings) -> Engine:
    """The configured database, its schema brought to the latest migration first."""
    from maillage.store.database import make_engine, upgrade

    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    return engine


def db_upgrade() -> None:
    """Apply the database migrations (the server also does it at start)."""
    _migrated(settings_or_exit())
    typer.echo("database schema is up to date")


def db_reindex(
    resource_type: Annotated[
        str | None, typer.Option("--type", help="Only this resource type, e.g. Location.")
    ] = None,
) -> None:
    """Rebuild the search index (after an upgrade that adds search parameters)."""
    from maillage.store.database import session_factory
    from maillage.store.resources import reindex

    settings = settings_or_exit()
    count = reindex(session_factory(_migrated(settings)), settings.zone, resource_type)
    typer.echo(f"{count} resources indexed")


def _checkpoint_target(settings: Settings) -> tuple[Path, bytes] | None:
    """The checkpoint file and key, when both are configured."""
    if settings.audit_checkpoint_key is None or settings.audit_checkpoint_file is None:
        return None
    return settings.audit_checkpoint_file, settings.audit_checkpoint_key.get_secret_value().encode()


def db_verify_audit() -> None:
    """Recompute the audit hash chain and check it against the signed checkpoints; exit 1 when a
    record was altered, removed or inserted, a lane's tail cut or a lane rewritten."""
    from maillage.store import audit, audit_checkpoints
    from maillage.store.database import session_factory, transaction

    settings = settings_or_exit()
    target = _checkpoint_target(settings)
    sessions = session_factory(_migrated(settings))
    audit.drain(sessions, settings.zone)  # the trail as committed, queued events included
    with transaction(sessions) as session:
        report = audit.verify(session)
        problems = report.problems + audit.verify_copies(session, settings.zone)
        if target is not None:
            problems += audit_checkpoints.check(session, *target)
    for problem in problems:
        typer.echo(problem, err=True)
    if target is None:
        typer.echo("no MAILLAGE_AUDIT_CHECKPOINT_KEY/FILE: truncation cannot be detected", err=True)
    typer.echo(f"{report.checked} audit records checked: {'BROKEN' if problems else 'intact'}")
    if problems:
        raise typer.Exit(1)


def db_backup(
    target: Annotated[Path, typer.Argument(help="New file to write (never overwritten).")],
) -> None:
    """Back the database up to a new file (pg_dump's custom format, or a copy of the SQLite
    file); attachments live in MAILLAGE_FILES_DIR and are copied with the files."""
    from maillage.store.backup import BackupError, backup

    settings = settings_or_exit()
    try:
        backup(settings.sqlalchemy_url, target)
    except BackupError as error:
        typer.echo(f"backup refused: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"database backed up to {target}")


def db_restore(
    source: Annotated[Path, typer.Argument(help="A file written by `maillage db backup`.")],
) -> None:
    """Restore a backup into the configured database, which must be empty; then run
    `maillage db verify-audit`."""
    from maillage.store.backup import BackupError, restore

    settings = settings_or_exit()
    try:
        restore(settings.sqlalchemy_url, source)
    except BackupError as error:
        typer.echo(f"restore refused: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"database restored from {source}")


def db_checkpoint_audit() -> None:
    """Append a signed checkpoint of every audit lane's head (run it periodically, e.g. cron)."""
    from maillage.store import audit, audit_checkpoints
    from maillage.store.database import session_factory, transaction

    settings = settings_or_exit()
    target = _checkpoint_target(settings)
    if target is None:
        typer.echo("set MAILLAGE_AUDIT_CHECKPOINT_KEY and MAILLAGE_AUDIT_CHECKPOINT_FILE", err=True)
        raise typer.Exit(2)
    sessions = session_factory(_migrated(settings))
    audit.drain(sessions, settings.zone)
    with transaction(sessions) as session:
        heads = audit_checkpoints.write(session, *target)
    typer.echo(f"checkpoint of {len(heads)} audit lanes appended to {target[0]}")


def users_create(
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    role: Annotated[str, typer.Option(help=f"One of {ROLES}.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    practitioner: Annotated[str | None, typer.Option(help="Practitioner/ID it acts as.")] = None,
    patient: Annotated[str | None, typer.Option(help="Patient/ID it acts as.")] = None,
    site: Annotated[str | None, typer.Option(help="Location/ID of the user's site.")] = None,
) -> None:
    """Create an account (no account exists by default: this is how the first admin is made)."""
    from maillage.care.accounts import AccountError, create_account
    from maillage.store.database import session_factory

    if not password_stdin:
        typer.echo("give the password on standard input with --password-stdin", err=True)
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\r\n")
    sessions = session_factory(_migrated(settings_or_exit()))
    try:
        user = create_account(
            sessions, email, password, role, practitioner=practitioner, patient=patient, site=site
        )
    except AccountError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"created {user.email} ({user.role})")


def outbox_deliver(
    watch: Annotated[
        float | None,
        typer.Option(help="Keep delivering, waking every SECONDS (default: one pass, then exit)."),
    ] = None,
) -> None:
    """Send the due e-mails of the outbox (comptes rendus) through MAILLAGE_SMTP_URL."""
    from maillage.care.delivery import deliver_due
    from maillage.store.database import session_factory

    settings = settings_or_exit()
    if settings.smtp_url is None:
        typer.echo("error: set MAILLAGE_SMTP_URL to deliver the outbox", err=True)
        raise typer.Exit(2)
    sessions = session_factory(_migrated(settings))
    _passes(lambda: deliver_due(sessions, settings), watch)


def outbox_sms(
    watch: Annotated[
        float | None,
        typer.Option(help="Keep sending, waking every SECONDS (default: one pass, then exit)."),
    ] = None,
) -> None:
    """Send the due text messages of the outbox (reminders) through MAILLAGE_SMS_URL."""
    from maillage.care.delivery import send_sms_due
    from maillage.store.database import session_factory

    settings = settings_or_exit()
    if settings.sms_url is None:
        typer.echo("error: set MAILLAGE_SMS_URL to send text messages", err=True)
        raise typer.Exit(2)
    sessions = session_factory(_migrated(settings))
    _passes(lambda: send_sms_due(sessions, settings), watch)


def reminders_run(
    watch: Annotated[
        float | None,
        typer.Option(help="Keep queuing, waking every SECONDS (default: one pass, then exit)."),
    ] = None,
) -> None:
    """Queue in the outbox the reminders of tomorrow's appointments (patient and site, e-mail
    and SMS) and the coordinators' daily digest of overdue télé-expertises, once each, from
    MAILLAGE_REMINDER_HOUR on; `outbox deliver` and `outbox sms` send them."""
    from maillage.care.repository import system_repository
    from maillage.store.models import utcnow

    repository = system_repository(settings_or_exit(), migrate=True)

    def step() -> dict[str, int]:
        reminders, digests = repository.queue_reminders(utcnow())
        return {"reminders queued": reminders, "digests queued": digests}

    _passes(step, watch)


def outbox_share(
    watch: Annotated[
        float | None,
        typer.Option(help="Keep sharing, waking every SECONDS (default: one pass, then exit)."),
    ] = None,
) -> None:
    """Submit the due MHD Bundles (ITI-65) of the outbox to MAILLAGE_MHD_URL."""
    from maillage.care.sharing import share_due
    from maillage.store.database import session_factory

    settings = settings_or_exit()
    if settings.mhd_url is None:
        typer.echo("error: set MAILLAGE_MHD_URL to share documents", err=True)
        raise typer.Exit(2)
    sessions = session_factory(_migrated(settings))
    _passes(lambda: share_due(sessions, settings), watch)


def outbox_audit(
    watch: Annotated[
        float | None,
        typer.Option(help="Keep chaining, waking every SECONDS (default: one pass, then exit)."),
    ] = None,
) -> None:
    """Chain the queued AuditEvents of the audit outbox into the hash-chained trail, in
    batches, rows of finished transactions only; prints how many and the oldest one's wait."""
    from maillage.store import audit
    from maillage.store.database import session_factory, transaction

    settings = settings_or_exit()
    sessions = session_factory(_migrated(settings))

    def step() -> dict[str, int]:
        chained = audit.drain(sessions, settings.zone, settled=True)
        with transaction(sessions) as session:
            left = audit.backlog(session)
        return {
            "chained": chained,
            "waiting": left.pending,
            "seconds of lag": round(left.lag_seconds),
        }

    _passes(step, watch)


def _passes(step: Callable[[], dict[str, int]], watch: float | None) -> None:
    """Run one pass of an outbox worker, printing its outcomes; again every ``watch`` seconds."""
    while True:
        outcomes = step()
        counts = [f"{n} {status}" for status, n in sorted(outcomes.items())]
        typer.echo(", ".join(counts) or "none due")
        if watch is None:
            break
        time.sleep(watch)


def outbox_failed() -> None:
    """List the dead letters: messages and shares given up on, for a human to handle."""
    from maillage.care.delivery import failed_messages
    from maillage.store.database import session_factory

    settings = settings_or_exit()
    rows = failed_messages(session_factory(_migrated(settings)))
    for row in rows:
        typer.echo("\t".join(str(value) for value in row))
    if not rows:
        typer.echo("no failed message")


def register(app: typer.Typer) -> None:
    """Add the server commands to the ``maillage`` command."""
    app.command("serve")(serve)
    db = typer.Typer(help="Database schema and audit trail.", no_args_is_help=True)
    db.command("upgrade")(db_upgrade)
    db.command("verify-audit")(db_verify_audit)
    db.command("checkpoint-audit")(db_checkpoint_audit)
    db.command("reindex")(db_reindex)
    db.command("backup")(db_backup)
    db.command("restore")(db_restore)
    app.add_typer(db, name="db")
    users = typer.Typer(help="User accounts.", no_args_is_help=True)
    users.command("create")(users_create)
    psc_commands.register(users)
    app.add_typer(users, name="users")
    outbox = typer.Typer(
        help="Outgoing e-mail (comptes rendus, MSSanté), MHD shares and the audit outbox.",
        no_args_is_help=True,
    )
    outbox.command("deliver")(outbox_deliver)
    outbox.command("sms")(outbox_sms)
    outbox.command("share")(outbox_share)
    outbox.command("failed")(outbox_failed)
    outbox.command("audit")(outbox_audit)
    app.add_typer(outbox, name="outbox")
    reminders = typer.Typer(
        help="Day-before reminders and the daily digest of overdue télé-expertises.",
        no_args_is_help=True,
    )
    reminders.command("run")(reminders_run)
    app.add_typer(reminders, name="reminders")
