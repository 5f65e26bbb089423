"""Pages written to a local file, one JSON line each: the demo's pager, and a clinic's trail.

A file is no way to wake a nurse; it is where the demo shows its pages (and a
clinic may keep one beside its real pagers to see what was sent). A page
that cannot be written (the disk is full, the path is a folder) fails like any
other page: it is retried, then raises ``page_failed``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from monitor.app.pager import TargetConfig, TargetContext
from monitor.app.ports import PageDeliveryError, PagerTarget


class LogConfig(TargetConfig):
    """A file that receives every page as a line of JSON."""

    kind: Literal["log"]
    path: Path = Field(description="the file pages are appended to (relative: in the data "
                       "directory; its folder is made)")


async def build(name: str, config: LogConfig, context: TargetContext) -> PagerTarget:
    """The target ``config`` describes."""
    return LogTarget(name, context.data_dir / config.path)


class LogTarget:
    """Appends each page to a file and flushes it to the disk."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self._path = path

    async def send(self, page: dict[str, Any]) -> None:
        """Deliver one page.

        Raises:
            PageDeliveryError: The file cannot be written.
        """
        line = json.dumps({**page, "target": self.name}) + "\n"
        try:
            await asyncio.to_thread(self._append, line)
        except OSError as error:
            raise PageDeliveryError(f"log {self._path}: {error.strerror}") from None

    def _append(self, line: str) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as file:
            file.write(line)
