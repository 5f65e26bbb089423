"""Vitals in InfluxDB through its v1-compatible HTTP API (``/write``, ``/query``).

InfluxDB 1.x serves this API natively, and 2.x and 3 serve it for
compatibility, so one adapter covers all three and tests run it against a
real server. Measurement ``vitals``, tags ``site, bed, session_id,
device_id``, fields the vitals plus ``seq``, precision ms. A point is keyed
by its series and time, so writing the same reading twice stores it once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from monitor.app.ports import StoredReading, StoreUnavailableError
from monitor.domain.readings import VITALS, BedRef, Reading, iso_ms

MEASUREMENT: Final = "vitals"


def _tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


NS_PER_MS: Final = 1_000_000


def line(stored: StoredReading) -> str | None:
    """One reading in line protocol, time in ns (None if it carries no value).

    InfluxDB keeps one point per series and timestamp, and a device may send
    two readings in one millisecond. The reading's seq (mod 10^6) is the
    sub-millisecond part of its time, so both are kept; a redelivery (same
    seq, same ts) still lands on the same point.
    """
    reading = stored.reading
    tags = [f"site={_tag(reading.bed.site)}", f"bed={_tag(reading.bed.bed)}"]
    if stored.session_id:
        tags.append(f"session_id={_tag(stored.session_id)}")
    tags.append(f"device_id={_tag(reading.device_id)}")
    fields = [f"{name}={value!r}" for name, value in reading.vitals.items()
              if math.isfinite(value)]
    if not fields:
        return None
    fields.append(f"seq={reading.seq}i")
    if reading.flags:
        flags = json.dumps(reading.flags).replace("\\", "\\\\").replace('"', '\\"')
        fields.append(f'flags="{flags}"')
    at_ns = reading.ts_ms * NS_PER_MS + reading.seq % NS_PER_MS
    return f"{MEASUREMENT},{','.join(tags)} {','.join(fields)} {at_ns}"


def _in_ns(point: str) -> str:
    """The point with its time in ns (one an earlier version queued in ms is widened)."""
    head, _, at = point.rpartition(" ")
    return point if len(at.lstrip("-")) > 13 else f"{head} {int(at) * NS_PER_MS}"


class InfluxConfig(BaseModel):
    """Where the InfluxDB vitals store is, and how to sign in (a token, or a 1.x user)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    url: str
    database: str
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None


def build(config: InfluxConfig) -> InfluxVitals:
    """The store ``config`` describes (no connection is made until it is used)."""
    return InfluxVitals(
        config.url, config.database,
        token=config.token.get_secret_value() if config.token else None,
        username=config.username,
        password=config.password.get_secret_value() if config.password else None)


class InfluxVitals:
    """The InfluxDB vitals store."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        headers = {"Authorization": f"Token {token}"} if token else {}
        auth = httpx.BasicAuth(username, password or "") if username and not token else None
        self._client = httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, auth=auth,
                                         timeout=timeout_s)
        self._database = database
        self._source = InfluxReadings(url.rstrip("/"), database, headers,
                                      (username, password or "") if username and not token
                                      else None, timeout_s)

    def reading_source(self) -> InfluxReadings:
        """A source of this database's readings for another process (the what-if worker)."""
        return self._source

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:  # noqa: ANN401
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise StoreUnavailableError(f"InfluxDB {path}: {error!r}") from None
        if response.status_code >= 300:
            raise StoreUnavailableError(
                f"InfluxDB {path} answered {response.status_code}: {response.text[:200]}"
            )
        return response

    async def ensure_database(self) -> None:
        """Create the database if the server lets us (1.x; 2.x/3 map it to a bucket).

        Raises:
            StoreUnavailableError: The server does not answer.
        """
        await self._call("POST", "/query", data={"q": f'CREATE DATABASE "{self._database}"'})

    async def write(self, readings: Sequence[StoredReading]) -> int:
        """Write readings in one request; returns how many points were sent.

        Raises:
            StoreUnavailableError: The server did not take them.
        """
        lines = [text for text in (line(r) for r in readings) if text is not None]
        await self.write_lines(lines)
        return len(lines)

    async def write_lines(self, lines: Sequence[str]) -> None:
        """Write points given in line protocol (time in ns, or ms from an older outbox).

        Raises:
            StoreUnavailableError: The server did not take them.
        """
        if lines:
            await self._call("POST", "/write", params={"db": self._database, "precision": "ns"},
                             content="\n".join(_in_ns(point) for point in lines).encode())

    async def query(self, influxql: str) -> list[dict[str, Any]]:
        """Rows of an InfluxQL query (epoch ms), as dicts.

        Raises:
            StoreUnavailableError: The server did not answer or refused the query.
        """
        response = await self._call("GET", "/query", params={
            "db": self._database, "q": influxql, "epoch": "ms", "chunked": "false"})
        return _rows(response.json())

    async def session_readings(
        self, session_id: str, from_ms: int | None = None, to_ms: int | None = None
    ) -> list[Reading]:
        """A session's readings in time order."""
        return list(_as_readings(await self.query(_readings_query(session_id, from_ms, to_ms))))

    async def prune(self, before_ms: int) -> None:
        """Delete raw readings older than ``before_ms``."""
        await self._call("POST", "/query", params={"db": self._database},
                         data={"q": f'DELETE FROM "{MEASUREMENT}" WHERE time < {before_ms}ms'})  # noqa: S608


@dataclass(frozen=True, slots=True)
class InfluxReadings:
    """Reads a session's readings over a blocking HTTP client of its own (what-if worker)."""

    url: str
    database: str
    headers: dict[str, str]
    basic_auth: tuple[str, str] | None
    timeout_s: float

    def readings(self, session_id: str) -> list[Reading]:
        """A session's readings in time order.

        Raises:
            StoreUnavailableError: The server did not answer or refused the query.
        """
        try:
            response = httpx.get(f"{self.url}/query", headers=self.headers, auth=self.basic_auth,
                                 timeout=self.timeout_s, params={
                                     "db": self.database, "epoch": "ms", "chunked": "false",
                                     "q": _readings_query(session_id, None, None)})
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise StoreUnavailableError(f"InfluxDB query: {error}") from None
        return list(_as_readings(_rows(response.json())))


def _readings_query(session_id: str, from_ms: int | None, to_ms: int | None) -> str:
    where = [f"session_id = {_quote(session_id)}"]
    if from_ms is not None:
        where.append(f"time >= {from_ms}ms")
    if to_ms is not None:
        where.append(f"time <= {to_ms}ms")
    # every value in it is quoted by _quote or an int
    return f'SELECT * FROM "{MEASUREMENT}" WHERE {" AND ".join(where)} ORDER BY time'  # noqa: S608


def _rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for result in document.get("results", []):
        if "error" in result:
            raise StoreUnavailableError(f"InfluxDB query: {result['error']}")
        for series in result.get("series", []):
            columns = series["columns"]
            rows += [dict(zip(columns, values, strict=True)) for values in series["values"]]
    return rows


def _as_readings(rows: Iterable[dict[str, Any]]) -> Iterable[Reading]:
    for row in rows:
        vitals = {v: float(row[v]) for v in VITALS if row.get(v) is not None}
        yield Reading(BedRef(row["site"], row["bed"]), row.get("device_id") or "",
                      int(row.get("seq") or 0), iso_ms(row["time"]), int(row["time"]), vitals,
                      json.loads(row["flags"]) if row.get("flags") else {})
