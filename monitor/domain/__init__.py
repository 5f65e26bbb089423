"""The clinical rules: pure, no I/O, time passed in.

- ``vitals``: the vital-sign registry (names, units, UCUM, LOINC, plausible bounds);
- ``readings``: MQTT payloads parsed and checked into readings and device status;
- ``limits``: threshold profiles and their rules; ``alarms``: judging a value, the alarm record;
- ``engine``: one bed's alarm engine; ``alarm_ledger``: latching, acknowledging, pausing;
- ``sequence``: duplicates, gaps and late readings by seq;
- ``sessions``: the session and its phases; ``discharge``: readiness to leave;
- ``paging``: who is paged and when to escalate;
- ``replay`` and ``review``: what-ifs and a session's statistics from stored readings.
"""

__all__ = ["alarm_ledger", "alarms", "discharge", "engine", "limits", "paging", "readings",
           "replay", "review", "sequence", "sessions", "vitals"]
