"""Breach-to-page latency: an SBP of 192 published over MQTT until the signed webhook arrives.

Real Mosquitto and a real HTTP receiver; the monitor, the receiver and the
publisher share one event loop (one process), as a small clinic server would
run them next to each other. Each bed has an open session and gets one
breach; breaches are spread out so each is timed on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

import aiomqtt
import httpx
import numpy as np
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.service import Started, run_monitor
from monitor.settings import Settings
from tests.servers import free_port, http_server, mosquitto

BENCH_TOKEN = "benchmark-bootstrap-token-0123456789"


def reading(seq: int, **vitals: float) -> bytes:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
    return json.dumps({"v": 1, "device_id": f"bench-{seq}", "seq": seq, "ts": ts,
                       "vitals": vitals}).encode()


async def measure(beds: int, gap_s: float, directory: Path) -> list[float]:
    arrived: dict[str, float] = {}
    all_arrived = asyncio.Event()

    async def page(request: Request) -> Response:
        arrived[json.loads(await request.body())["bed"]] = time.perf_counter()
        if len(arrived) == beds:
            all_arrived.set()
        return Response(status_code=204)

    hook_port = free_port()
    paging = directory / "paging.toml"
    paging.write_text(
        f'[targets.hook]\nkind = "webhook"\nurl = "http://127.0.0.1:{hook_port}/page"\n'
        'secret_env = "BENCH_PAGER_SECRET"\n\n[[tiers]]\nname = "nurses"\n'
        'priorities = ["high"]\ntargets = ["hook"]\n'
    )
    os.environ["BENCH_PAGER_SECRET"] = "bench"
    with mosquitto(directory) as broker:
        settings = Settings(mqtt_url=broker.url, mqtt_client_id="bench-monitor",
                            http_port=0, data_dir=directory / "var", paging_file=paging,
                            bootstrap_token=SecretStr(BENCH_TOKEN))
        stop = asyncio.Event()
        ready: asyncio.Future[Started] = asyncio.get_running_loop().create_future()
        app = Starlette(routes=[Route("/page", page, methods=["POST"])])
        async with http_server(app, hook_port):
            monitor = asyncio.create_task(
                run_monitor(settings, stop=stop, on_started=ready.set_result))
            started = await ready
            headers = {"Authorization": f"Bearer {BENCH_TOKEN}"}
            async with httpx.AsyncClient(base_url=started.dashboard_url, headers=headers) as api:
                for n in range(beds):
                    await api.post("/api/sessions", json={
                        "site": "bench", "bed": f"b{n}", "patient_ref": f"p{n}"})
            sent: dict[str, float] = {}
            async with aiomqtt.Client("127.0.0.1", broker.port) as client:
                for n in range(beds):
                    sent[f"b{n}"] = time.perf_counter()
                    await client.publish(f"infusion/bench/b{n}/vitals",
                                         reading(n, sbp=192, dbp=95), qos=1)
                    await asyncio.sleep(gap_s)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await all_arrived.wait()
            stop.set()
            await monitor
    missing = beds - len(arrived)
    if missing:
        raise SystemExit(f"{missing} of {beds} breaches were never paged")
    return [(arrived[bed] - sent[bed]) * 1000 for bed in sent]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--beds", type=int, default=300)
    parser.add_argument("--gap-ms", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        latencies = np.array(asyncio.run(measure(args.beds, args.gap_ms / 1000, Path(directory))))
    p50, p99 = np.percentile(latencies, [50, 99])
    print(f"breach-to-page latency over {len(latencies)} breaches (webhook, real Mosquitto): "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies.max():.1f} ms")


if __name__ == "__main__":
    main()
