"""A session's whole stored record, and a patient's series of sessions."""

from __future__ import annotations

from typing import Any

from monitor.app.ports import RecordStore, VitalsStore
from monitor.domain.series import SessionRecord, session_summary
from monitor.domain.sessions import Session


async def session_record(
    store: RecordStore, vitals: VitalsStore, session: Session
) -> SessionRecord:
    """Everything stored of ``session``: readings, alarms and what the nurse recorded."""
    return SessionRecord(
        session=session,
        readings=await vitals.session_readings(session.id),
        alarms=await store.alarms(session_id=session.id),
        infusion=await store.infusion_events(session.id),
        assessments=await store.assessments(session.id),
        adverse_events=await store.adverse_events(session.id),
        checklist=await store.checklist(session.id),
    )


async def patient_series(
    store: RecordStore, vitals: VitalsStore, patient_ref: str
) -> list[dict[str, Any]]:
    """The patient's sessions, oldest first, each summarised for comparison."""
    series = []
    for session_id in await store.patient_session_ids(patient_ref):
        session = await store.session(session_id)
        if session is not None:
            series.append(session_summary(await session_record(store, vitals, session)))
    return series
