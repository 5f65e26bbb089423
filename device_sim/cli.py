"""``device-sim``: simulated bedside monitors publishing to an MQTT broker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import tomllib
from pathlib import Path

import httpx

from device_sim.broker import Broker
from device_sim.device import ChairSpec, SimulatedMonitor
from device_sim.lifecycle import ApiSessions, SessionDriver
from device_sim.replay import RecordingError, load, replay
from device_sim.runner import run_devices
from device_sim.scenarios import SCENARIOS

DRIVE_EVERY_S = 0.5


def chair_specs(
    site: str,
    beds: int,
    seed: int,
    *,
    scenario: str = "normal",
    mix: dict[str, str] | None = None,
    nibp_cycle_s: int = 300,
) -> list[ChairSpec]:
    """Chairs ``bed-01``.. at ``site``, each with a seed of its own and its scenario."""
    width = max(2, len(str(beds)))
    specs = []
    for n in range(1, beds + 1):
        bed = f"bed-{n:0{width}d}"
        specs.append(ChairSpec(
            site=site, bed=bed, device_id=f"mon-{site}-{n:0{width}d}", seed=seed * 100_000 + n,
            scenario=(mix or {}).get(bed, scenario), nibp_cycle_s=nibp_cycle_s,
        ))
    return specs


def read_mix(path: Path) -> tuple[str, dict[str, str]]:
    """A mix file: ``default = "normal"`` and ``[chairs] "bed-02" = "desaturation"``.

    Raises:
        SystemExit: The file is invalid; the message names the key.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SystemExit(f"device-sim: mix file {path}: {error}") from None
    unknown = set(document) - {"default", "chairs"}
    if unknown:
        raise SystemExit(f"device-sim: mix file {path}: unknown key {sorted(unknown)[0]!r}")
    default = document.get("default", "normal")
    chairs = document.get("chairs", {})
    for where, name in [("default", default), *((f"chairs.{b}", s) for b, s in chairs.items())]:
        if name not in SCENARIOS:
            raise SystemExit(f"device-sim: mix file {path}: {where} = {name!r} is not one of "
                             f"{', '.join(SCENARIOS)}")
    return default, dict(chairs)


async def _drive(url: str, token: str | None, devices: list[SimulatedMonitor]) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        driver = SessionDriver(ApiSessions(client))
        while True:
            for device in devices:
                await driver.follow(device)
            await asyncio.sleep(DRIVE_EVERY_S)


async def _simulate(args: argparse.Namespace) -> None:
    default, mix = read_mix(args.mix) if args.mix else (args.scenario, {})
    specs = chair_specs(args.site, args.beds, args.seed, scenario=default, mix=mix,
                        nibp_cycle_s=args.nibp_cycle)
    devices = [SimulatedMonitor(spec, use_senml=args.senml) for spec in specs]
    async with asyncio.TaskGroup() as group:
        running = group.create_task(run_devices(
            args.broker, devices, speed=args.speed, qos=args.qos, connections=args.connections,
            duration_s=args.duration,
        ))
        if args.drive_api:
            driving = group.create_task(_drive(args.drive_api, args.api_token, devices))
            running.add_done_callback(lambda _: driving.cancel())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="device-sim", description=__doc__)
    add = parser.add_argument
    add("--broker", default="mqtt://127.0.0.1:1883",
        help="mqtt://[user:pass@]host:port, or mqtts:// for TLS")
    add("--site", default="demo", help="site name in the topics")
    add("--beds", type=int, default=4, help="number of chairs")
    add("--speed", type=float, default=1.0,
        help="simulated seconds per real second (60: an hour in a minute)")
    add("--seed", type=int, default=1, help="same seed, same patients and same values")
    add("--scenario", choices=SCENARIOS, default="normal", help="scenario of every chair")
    add("--mix", type=Path, help="TOML file giving chairs their own scenarios")
    add("--qos", type=int, choices=(0, 1), default=1, help="MQTT QoS of readings")
    add("--senml", action="store_true", help="publish SenML (RFC 8428) packs")
    add("--nibp-cycle", type=int, default=300, help="seconds between blood pressures")
    add("--connections", type=int, help="share this many connections (no per-chair last will)")
    add("--duration", type=int, help="stop after this many simulated seconds")
    add("--drive-api", metavar="URL", help="run sessions through the monitor's API at URL")
    add("--api-token", help="bearer token for --drive-api")
    add("--replay", type=Path, metavar="FILE", help="replay a recording (CSV or JSONL)")
    add("--replay-bed", default="bed-01", help="bed the recording is replayed to")
    add("--keep-ts", action="store_true", help="replay with the recorded timestamps")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``device-sim``."""
    args = _parser().parse_args(argv)
    if args.beds < 1 or args.speed <= 0 or args.nibp_cycle < 1:
        raise SystemExit("device-sim: --beds and --nibp-cycle must be at least 1, --speed above 0")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        Broker.parse(args.broker)
    except ValueError as error:
        raise SystemExit(f"device-sim: {error}") from None
    with contextlib.suppress(KeyboardInterrupt):
        if args.replay:
            try:
                records = load(args.replay)
            except (OSError, RecordingError) as error:
                raise SystemExit(f"device-sim: {error}") from None
            sent = asyncio.run(replay(args.broker, records, site=args.site, bed=args.replay_bed,
                                      speed=args.speed, qos=args.qos, retime=not args.keep_ts))
            logging.getLogger(__name__).info("replayed %d readings", sent)
        else:
            asyncio.run(_simulate(args))
