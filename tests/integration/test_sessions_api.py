"""A session's life through the API: baseline, pre-start check, overrides, end."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Mosquitto, RunningMonitor, eventually, publisher, reading

pytestmark = pytest.mark.integration


async def test_session_phases_baseline_overrides_and_audit(
    monitor: RunningMonitor, mosquitto: Mosquitto
) -> None:
    topic = f"infusion/{monitor.site}/chair-9/vitals"
    ana = monitor.api(await monitor.token("nurse-ana", "nurse"))
    lee = monitor.api(await monitor.token("dr-lee", "nurse"))
    async with monitor.api() as http, ana, lee:
        created = (await http.post("/api/sessions", json={
            "site": monitor.site, "bed": "chair-9", "patient_ref": "p-9"})).json()
        sid = created["id"]
        again = await http.post("/api/sessions", json={
            "site": monitor.site, "bed": "chair-9", "patient_ref": "p-10"})
        assert again.status_code == 409
        assert f"has open session {sid}" in again.json()["detail"]
        async with publisher(mosquitto) as mqtt:
            for seq, (sbp, dbp, hr) in enumerate([(148, 94, 70), (152, 96, 72), (150, 92, 350)]):
                await mqtt.publish(topic, reading(seq, sbp=sbp, dbp=dbp, hr=hr), qos=1)

        async def stored() -> bool:
            return len((await http.get(f"/api/sessions/{sid}/vitals")).json()["readings"]) == 3
        await eventually(stored)

        skip = await http.post(f"/api/sessions/{sid}/phase", json={"phase": "observation"})
        assert skip.status_code == 409
        unseen = await ana.post(f"/api/sessions/{sid}/phase", json={"phase": "infusion"})
        assert unseen.status_code == 409
        assert "resting BP 150/94 is above 140/90" in unseen.json()["detail"]
        assert "acknowledge_warnings" in unseen.json()["detail"]
        started = (await ana.post(f"/api/sessions/{sid}/phase", json={
            "phase": "infusion", "acknowledge_warnings": True})).json()
        assert started["baseline"] == {"sbp": 150.0, "dbp": 94.0, "hr": 71.0}  # HR 350 left out
        assert started["warnings"] == ["resting BP 150/94 is above 140/90"]

        rules = {"delay_s": 0, "rules": [{"when": ">", "limit": 90, "priority": "high"}]}
        changed = await lee.post(f"/api/sessions/{sid}/thresholds",
                                 json={"vital": "hr", "rules": rules})
        assert changed.status_code == 200, changed.text
        bad = await http.post(f"/api/sessions/{sid}/thresholds",
                              json={"vital": "hr", "rules": {"delay_s": 0, "rules": []}})
        assert bad.status_code == 422
        cases: list[tuple[dict[str, object], str]] = [
            ({"delay_s": "Infinity", "rules": [{"when": "<", "limit": 90, "priority": "high"}]},
             "delay_s"),
            ({"delay_s": 0, "rules": [{"when": "<", "limit": "NaN", "priority": "high"}]},
             "limit"),
            ({"delay_s": 1e12, "rules": [{"when": "<", "limit": 90, "priority": "high"}]},
             "delay_s"),
            ({"delay_s": 0, "rules": [{"when": "<", "limit": -5, "priority": "high"}]},
             "rules.0.limit"),
            ({"delay_s": 10, "rules": [{"when": ">", "limit": 40, "priority": "high"},
                                       {"when": "<", "limit": 150, "priority": "high"}]},
             "contradict"),
        ]
        for rules, field in cases:
            refused = await http.post(f"/api/sessions/{sid}/thresholds",
                                      json={"vital": "hr", "rules": rules})
            assert refused.status_code == 422, (rules, refused.text)
            assert field in refused.text, refused.text
        async with publisher(mosquitto) as mqtt:
            await mqtt.publish(topic, reading(10, hr=95), qos=1)

        async def hr_alarm() -> bool:
            alarms = (await http.get("/api/alarms", params={"state": "active"})).json()["alarms"]
            return [(a["code"], a["priority"], a["limit"]) for a in alarms
                    if a["session_id"] == sid] == [("hr_high", "high", 90.0)]
        await eventually(hr_alarm)

        unsigned = await ana.post(f"/api/sessions/{sid}/phase", json={"phase": "ended"})
        assert unsigned.status_code == 409
        assert "no signed fit-to-leave checklist" in unsigned.json()["detail"]
        not_admin = await ana.post(f"/api/sessions/{sid}/phase", json={
            "phase": "ended", "override_reason": "patient left against advice"})
        assert not_admin.status_code == 403
        standing = await http.post(f"/api/sessions/{sid}/phase", json={
            "phase": "ended", "override_reason": "patient left against advice"})
        assert standing.status_code == 409
        assert "hr_high (hr) high active" in standing.json()["detail"]
        ended = (await http.post(f"/api/sessions/{sid}/phase", json={
            "phase": "ended", "acknowledge_alarms": True,
            "override_reason": "patient left against advice"})).json()
        assert ended["phase"] == "ended"
        audit = (await http.get(f"/api/sessions/{sid}/audit")).json()
        open_alarms = (await http.get("/api/alarms", params={"state": "open"})).json()["alarms"]
    changes = [(c["action"], c["user"]) for c in audit["changes"]]
    assert changes == [("opened", "bootstrap-admin"), ("phase", "nurse-ana"),
                       ("thresholds", "dr-lee"), ("phase", "bootstrap-admin")]
    assert audit["changes"][3]["detail"]["override_reason"] == "patient left against advice"
    assert audit["changes"][2]["detail"]["after"]["rules"][0]["limit"] == 90
    by_code = {a["code"]: a for a in audit["alarms"]}
    assert sorted(by_code) == ["hr_high", "implausible"]  # HR 0 in the baseline
    alarm = by_code["hr_high"]
    assert [(h["transition"], h["user"], h["detail"]) for h in alarm["history"]] == [
        ("raised", None, None), ("cleared", "bootstrap-admin", "session ended")]
    assert alarm["history"][0]["value"] == 95
    assert not [a for a in open_alarms if a["session_id"] == sid]


@pytest.mark.parametrize("value", ["%C2%B2", "99999999999999999999999", "-99999999999999999999",
                                   "1e9", "10000-01-01T00:00:00+00:00", "²"])
async def test_bad_from_and_to_are_a_422_naming_the_parameter(
    monitor: RunningMonitor, value: str
) -> None:
    session_id = await monitor.open_session("chair-3")
    async with monitor.api() as http:
        for name in ("from", "to"):
            response = await http.get(f"/api/sessions/{session_id}/vitals?{name}={value}")
            assert response.status_code == 422, (name, value, response.text)
            assert name in response.json()["detail"]
