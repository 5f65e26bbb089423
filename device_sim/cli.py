"""``device-sim``: simulated chairs publishing to an MQTT broker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from device_sim.chairs import Chair, ChairSpec
from monitor.adapters.mqtt import BrokerAddress

SCENARIOS = ("normal",)


def chair_specs(site: str, beds: int, seed: int, speed: float) -> list[ChairSpec]:
    """Chairs ``bed-01``.. at ``site``, each with a seed derived from ``seed``."""
    return [
        ChairSpec(site=site, bed=f"bed-{n:02d}", device_id=f"mon-{site}-{n:02d}",
                  seed=seed * 10_000 + n, speed=speed)
        for n in range(1, beds + 1)
    ]


async def run_chairs(
    address: BrokerAddress, specs: list[ChairSpec], stop_after_s: float | None = None
) -> None:
    """Run every chair until cancelled (or until ``stop_after_s`` simulated seconds)."""
    async with asyncio.TaskGroup() as group:
        for spec in specs:
            group.create_task(Chair(spec).run(address, stop_after_s), name=f"chair-{spec.bed}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="device-sim", description=__doc__)
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883",
                        help="mqtt[s]://[user:pass@]host:port")
    parser.add_argument("--site", default="demo", help="site name in the topics")
    parser.add_argument("--beds", type=int, default=4, help="number of chairs")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated seconds per real second (60: an hour in a minute)")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same patients")
    parser.add_argument("--scenario", choices=SCENARIOS, default="normal")
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many simulated seconds")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``device-sim``."""
    args = _parser().parse_args(argv)
    if args.beds < 1 or args.speed <= 0:
        raise SystemExit("device-sim: --beds must be at least 1 and --speed above 0")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        address = BrokerAddress.parse(args.broker)
    except ValueError as error:
        raise SystemExit(f"device-sim: {error}") from None
    specs = chair_specs(args.site, args.beds, args.seed, args.speed)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_chairs(address, specs, args.duration))
