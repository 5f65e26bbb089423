"""The InfluxDB adapter's token form (2.x and 3, 1.8+), seen by a real HTTP server.

Debian's InfluxDB 1.6 predates ``Authorization: Token``; what the adapter
sends is checked here on the wire instead.
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.adapters.influx import InfluxVitals
from monitor.app.ports import StoredReading
from monitor.domain.readings import BedRef, Reading
from tests.servers import free_port, http_server

pytestmark = pytest.mark.integration


async def test_a_token_is_sent_as_influxdb_expects_and_lines_are_escaped() -> None:
    seen: list[tuple[str | None, dict[str, str], bytes]] = []

    async def write(request: Request) -> Response:
        seen.append((request.headers.get("authorization"), dict(request.query_params),
                     await request.body()))
        return Response(status_code=204)

    port = free_port()
    async with http_server(Starlette(routes=[Route("/write", write, methods=["POST"])]), port):
        influx = InfluxVitals(f"http://127.0.0.1:{port}", "infusion", token="secret-token")
        reading = Reading(BedRef("site a", "bed,1"), "mon=7", 3, "t", 1795269787250,
                          {"hr": 72.0}, {"hr": "artifact"})
        await influx.write([StoredReading(reading, "s1", 0)])
        await influx.write_lines(["vitals,site=a,bed=b hr=70.0,seq=9i 1795269787250"])
        await influx.close()
    [(authorization, params, body), (_, _, queued_before)] = seen
    assert queued_before == b"vitals,site=a,bed=b hr=70.0,seq=9i 1795269787250000000"
    assert authorization == "Token secret-token"
    assert params == {"db": "infusion", "precision": "ns"}
    assert body == (b'vitals,site=site\\ a,bed=bed\\,1,session_id=s1,device_id=mon\\=7 '
                    b'hr=72.0,seq=3i,flags="{\\"hr\\": \\"artifact\\"}" 1795269787250000003')
