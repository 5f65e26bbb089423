"""``monitor``: ``run`` the service, ``demo`` it with simulated chairs, manage ``token``s."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Final

import uvloop

from device_sim.cli import chair_specs
from monitor.adapters.mqtt import BrokerAddress
from monitor.api.exports import to_csv, to_html, to_jsonl
from monitor.api.fhir import to_fhir
from monitor.app.auth import ROLES, new_token, token_hash
from monitor.app.counters import now_ms
from monitor.app.ports import StoreUnavailableError
from monitor.app.session_service import SessionBook, UnknownSessionError
from monitor.demo import DEMO_MIX, DEMO_PAGES, DEMO_PAGING, run_demo
from monitor.service import Started, run_monitor
from monitor.settings import Settings, SettingsError, load_settings, read_profiles
from monitor.stores import build_reports, influx_store, record_store

DEFAULT_PAGING: Final = Settings.model_fields["paging_file"].default


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monitor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the monitor (settings: config/monitor.toml, MONITOR_*)")
    demo = commands.add_parser(
        "demo", help="run the monitor with an embedded broker and simulated chairs"
    )
    demo.add_argument("--beds", type=int, default=6, help="number of simulated chairs")
    demo.add_argument("--speed", type=float, default=10.0,
                      help="simulated seconds per real second (10: a session in 8 min)")
    demo.add_argument("--seed", type=int, default=1, help="same seed, same patients")
    report = commands.add_parser("report", help="a session's report or export")
    report.add_argument("session_id")
    report.add_argument("--format", choices=("json", "html", "csv", "jsonl", "fhir"),
                        default="json")
    report.add_argument("--out", type=Path, help="write to this file (default: standard output)")
    token = commands.add_parser("token", help="issue, list or revoke access tokens")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="issue a token (printed once)")
    create.add_argument("--name", required=True, help="who uses it (shown in the audit log)")
    create.add_argument("--role", required=True, choices=ROLES)
    actions.add_parser("list", help="tokens in force")
    revoke = actions.add_parser("revoke", help="revoke a token")
    revoke.add_argument("id", type=int)
    return parser


async def session_report(settings: Settings, session_id: str, fmt: str) -> str:
    """A session's report or export, read straight from the stores (no broker, no server).

    Raises:
        UnknownSessionError: No session has that id.
        StoreUnavailableError: InfluxDB does not answer.
        SettingsError: The thresholds file or the database cannot be used.
    """
    profiles = read_profiles(settings)
    _existing_database(settings)
    store = record_store(settings)
    await store.open()
    influx = influx_store(settings)
    vitals = influx or store
    reports = build_reports(store, vitals, SessionBook(store, profiles))
    try:
        session = await reports.session(session_id)
        if fmt in ("json", "html"):
            report = await reports.report(session_id)
            if fmt == "json":
                return json.dumps(report, indent=2) + "\n"
            return to_html(report, await reports.readings(session))
        readings = await reports.readings(session)
        if fmt == "csv":
            return to_csv(readings)
        if fmt == "jsonl":
            return to_jsonl(readings)
        care = await reports.care(session)
        return json.dumps(to_fhir(session, readings, care), indent=1) + "\n"
    finally:
        await reports.close()
        if influx is not None:
            await influx.close()
        await store.close()


def _say(text: str) -> None:
    print(text, flush=True)


def _announce(started: Started) -> None:
    tokens = started.demo_tokens
    if tokens:
        _say(f"Dashboard: {started.dashboard_url}?token={tokens['nurse']}")
        _say(f"Viewer board: {started.dashboard_url}?token={tokens['viewer']}")
        _say(f"Admin token: {tokens['admin']}")
    else:
        _say(f"Dashboard: {started.dashboard_url}")
    _say(f"MQTT broker: {BrokerAddress.parse(started.broker_url)}")  # without credentials


def _existing_database(settings: Settings) -> None:
    """A command that reads or changes the monitor's records finds them, or says where it looked.

    A PostgreSQL database (``database_url``) is the monitor's own: it is
    migrated, never made, by these commands' connection.

    Raises:
        SettingsError: No SQLite database at the settings' data directory.
    """
    if settings.database_url is not None:
        return
    path = (settings.data_dir / "monitor.db").resolve()
    if not path.is_file():
        raise SettingsError(f"no monitor database at {path}: run this where the monitor runs, "
                            "or set MONITOR_DATA_DIR to its data directory")


async def _tokens(settings: Settings, args: argparse.Namespace) -> None:
    _existing_database(settings)
    store = record_store(settings)
    await store.open()
    try:
        if args.action == "create":
            token = new_token()
            token_id = await store.add_token(args.name, args.role, token_hash(token), now_ms())
            _say(f"token {token_id} for {args.name} ({args.role}), shown only now:\n{token}")
        elif args.action == "list":
            for row in await store.tokens():
                _say(f"{row['id']}\t{row['name']}\t{row['role']}")
        elif await store.revoke_token(args.id, now_ms()) is None:
            sys.exit(f"monitor: no token {args.id} in force")
        else:
            _say(f"token {args.id} revoked")
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``monitor``."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for chatty in ("amqtt", "transitions", "mqtt"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        settings = load_settings()
    except SettingsError as error:
        sys.exit(f"monitor: settings: {error}")
    if args.command == "token":
        try:
            asyncio.run(_tokens(settings, args))
        except SettingsError as error:  # e.g. a database schema newer than this monitor
            sys.exit(f"monitor: {error}")
        return
    if args.command == "report":
        try:
            text = asyncio.run(session_report(settings, args.session_id, args.format))
        except UnknownSessionError:
            sys.exit(f"monitor: no session {args.session_id}")
        except (SettingsError, StoreUnavailableError) as error:
            sys.exit(f"monitor: {error}")
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return
    if args.command == "demo" and (args.beds < 1 or args.speed <= 0):
        sys.exit("monitor: demo: --beds must be at least 1 and --speed above 0")

    def started(info: Started) -> Coroutine[Any, Any, None] | None:
        _announce(info)
        if args.command != "demo":
            return None
        return run_demo(info, chair_specs("demo", args.beds, args.seed, mix=DEMO_MIX),
                        args.speed)

    if args.command == "demo" and settings.paging_file == DEFAULT_PAGING:
        settings = settings.model_copy(update={"paging_file": DEMO_PAGING})
        _say(f"Pages: {settings.data_dir / DEMO_PAGES} (tail -f it to watch them arrive)")
    try:
        uvloop.run(run_monitor(settings, demo=args.command == "demo", on_started=started))
    except SettingsError as error:
        sys.exit(f"monitor: {error}")
