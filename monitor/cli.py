"""``monitor``: ``run`` the service, or ``demo`` it with simulated chairs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any

from device_sim.cli import chair_specs
from monitor.demo import run_demo
from monitor.service import Started, run_monitor
from monitor.settings import SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monitor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the monitor (settings: config/monitor.toml, MONITOR_*)")
    demo = commands.add_parser(
        "demo", help="run the monitor with an embedded broker and simulated chairs"
    )
    demo.add_argument("--beds", type=int, default=4, help="number of simulated chairs")
    demo.add_argument("--speed", type=float, default=1.0,
                      help="simulated seconds per real second")
    demo.add_argument("--seed", type=int, default=1, help="same seed, same patients")
    return parser


def _announce(started: Started) -> None:
    print(f"Dashboard: {started.dashboard_url}", flush=True)
    print(f"MQTT broker: {started.broker_url}", flush=True)


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

    def started(info: Started) -> Coroutine[Any, Any, None] | None:
        _announce(info)
        if args.command != "demo":
            return None
        return run_demo(info, chair_specs("demo", args.beds, args.seed), args.speed)

    if args.command == "demo" and (args.beds < 1 or args.speed <= 0):
        sys.exit("monitor: demo: --beds must be at least 1 and --speed above 0")
    try:
        asyncio.run(run_monitor(settings, on_started=started))
    except SettingsError as error:
        sys.exit(f"monitor: {error}")


