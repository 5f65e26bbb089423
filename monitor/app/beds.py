"""The beds with an open session, and where their alarm events go.

:class:`OpenSessions` holds each open session's alarm engine and whose
devices they hold; :class:`AlarmFanout` shows every alarm event on the board
and tells the listeners (the pager).
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.app.board import Board
from monitor.app.ports import AlarmListener, StoredReading
from monitor.domain.alarm_ledger import UnknownAlarmError
from monitor.domain.alarms import PAGE_RECORDS, AlarmEvent
from monitor.domain.engine import BP_VITALS, BedEngine
from monitor.domain.readings import BedRef


class OpenSessions:
    """The alarm engine of each bed with an open session, and whose devices they hold.

    A device id belongs to the bed it first published from while that bed
    has an open session, until the session ends.
    """

    def __init__(self, engines: Iterable[BedEngine] = (), *, slots: int = 1) -> None:
        self._by_bed: dict[BedRef, BedEngine] = {}
        self._owners: dict[str, BedRef] = {}
        self._claimed: dict[BedRef, list[str]] = {}
        """The devices each bed holds, freed together when its session ends."""
        self._last_bp: dict[BedRef, StoredReading] = {}
        self._slots: list[list[BedEngine]] = [[] for _ in range(slots)]
        for engine in engines:
            self.open(engine)

    def hold(self, stored: StoredReading) -> None:
        """Keep the latest reading with a blood pressure of a bed with no session.

        The cuff is often cycled before the session is opened; the session
        takes that reading when it opens (see :meth:`take_held`).
        """
        if any(vital in BP_VITALS for vital in stored.reading.vitals):
            self._last_bp[stored.reading.bed] = stored

    def take_held(self, bed: BedRef, since_ms: int) -> StoredReading | None:
        """The bed's held blood-pressure reading, if received since ``since_ms``; forgotten."""
        held = self._last_bp.pop(bed, None)
        return held if held is not None and held.received_ms >= since_ms else None

    def owner(self, device_id: str, bed: BedRef) -> BedRef | None:
        """The bed holding ``device_id``; claimed for ``bed`` if free and ``bed`` has a session."""
        owner = self._owners.get(device_id)
        if owner is None and bed in self._by_bed:
            owner = self._owners[device_id] = bed
            self._claimed.setdefault(bed, []).append(device_id)
        return owner

    def engine(self, bed: BedRef) -> BedEngine | None:
        """The engine of the bed's open session, if any."""
        return self._by_bed.get(bed)

    def engines(self) -> list[BedEngine]:
        """Every open session's engine."""
        return list(self._by_bed.values())

    @property
    def slots(self) -> int:
        """How many slots the engines are spread over (see :meth:`in_slot`)."""
        return len(self._slots)

    def in_slot(self, slot: int) -> list[BedEngine]:
        """The engines in ``slot``: a session's slot is fixed for as long as it is open.

        The alarm clock ticks one slot at a time, so it never walks every bed
        to find one slot's.
        """
        return list(self._slots[slot])

    def open(self, engine: BedEngine) -> None:
        """A session opened at the engine's bed."""
        self._leave_slot(engine.session.bed)
        self._by_bed[engine.session.bed] = engine
        self._slots[self._slot_of(engine)].append(engine)

    def close(self, bed: BedRef) -> None:
        """The bed's session ended: its devices are free to go elsewhere."""
        self._leave_slot(bed)
        self._by_bed.pop(bed, None)
        for device_id in self._claimed.pop(bed, ()):
            del self._owners[device_id]

    def _slot_of(self, engine: BedEngine) -> int:
        return hash(engine.session.id) % len(self._slots)

    def _leave_slot(self, bed: BedRef) -> None:
        engine = self._by_bed.get(bed)
        if engine is not None:
            self._slots[self._slot_of(engine)].remove(engine)

    def holding(self, alarm_id: str) -> BedEngine:
        """The engine holding an open alarm.

        Raises:
            UnknownAlarmError: No open alarm has that id.
        """
        for engine in self._by_bed.values():
            if any(alarm.id == alarm_id for alarm in engine.alarms.values()):
                return engine
        raise UnknownAlarmError(alarm_id)


class AlarmFanout:
    """Shows alarm events on the board, sends them to clients, and tells the pager."""

    def __init__(self, board: Board) -> None:
        self._board = board
        self.listeners: list[AlarmListener] = []

    def show(self, events: Iterable[AlarmEvent]) -> None:
        """Show events on the board only (alarms restored at start-up: nobody is paged again)."""
        for event in events:
            self._board.on_alarm(event)

    def publish(self, events: Iterable[AlarmEvent]) -> None:
        """Fan out each event, in order; page records stay in the audit log only."""
        for event in events:
            if event.transition in PAGE_RECORDS:
                continue
            self._board.on_alarm(event)
            for listener in self.listeners:
                listener.notify(event)
