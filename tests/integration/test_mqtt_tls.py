"""The monitor reaches a TLS-only Mosquitto through mqtts:// and the clinic's own CA."""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from monitor.settings import Settings
from tests.integration.conftest import eventually, monitor_running, reading
from tests.servers import MosquittoProcess, free_port

pytestmark = pytest.mark.integration


def certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for 127.0.0.1 signed by it."""
    ca_key, ca = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    extensions = directory / "san.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    for command in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "2", "-subj", "/CN=clinic test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
         "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", extensions],
    ):
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True)
    return ca, cert, key


async def test_readings_arrive_over_tls(monitor_settings: Settings, tmp_path: Path,
                                        site: str) -> None:
    ca, cert, key = certificates(tmp_path)
    port = free_port()
    config = tmp_path / "tls.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\ncafile {ca}\n"
                      f"certfile {cert}\nkeyfile {key}\n")
    broker = MosquittoProcess(config, port)
    broker.start()
    try:
        settings = monitor_settings.model_copy(update={
            "mqtt_url": f"mqtts://127.0.0.1:{port}", "mqtt_ca_file": ca})
        async with monitor_running(settings, site) as monitor:
            session_id = await monitor.open_session("chair-1")
            context = ssl.create_default_context(cafile=str(ca))
            async with aiomqtt.Client("127.0.0.1", port, tls_context=context) as device:
                await device.publish(f"infusion/{site}/chair-1/vitals", reading(1, hr=77), qos=1)
            async with monitor.api() as http:
                async def arrived() -> bool:
                    got = (await http.get(f"/api/sessions/{session_id}/vitals")).json()
                    return [r["vitals"]["hr"] for r in got["readings"]] == [77.0]
                await eventually(arrived)
        # A client that does not trust the clinic's CA gets no connection.
        untrusting = ssl.create_default_context()
        with socket.create_connection(("127.0.0.1", port)) as raw, pytest.raises(
            ssl.SSLCertVerificationError
        ):
            untrusting.wrap_socket(raw, server_hostname="127.0.0.1").close()
    finally:
        broker.stop()
