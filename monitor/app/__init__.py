"""The use cases, on the domain, through the ports (never an adapter or the API).

- ``ports``: the interfaces and records the use cases need (record store,
  vitals store and sink, board feed, pager target, broker records);
- ``ingest`` (message to judged reading), ``writer`` (commit, then acknowledge),
  ``beds`` (open sessions, alarm fan-out), ``board`` (what each chair shows);
- ``session_service`` (open, advance, thresholds), ``alarm_actions``
  (acknowledge, pause, the alarm clock), ``system_alarms`` (the monitor's own);
- ``pager`` (delivery, retries, escalation), ``reports`` and ``what_if`` (review),
  ``outbox`` (readings to InfluxDB in order), ``access`` and ``auth`` (tokens);
- ``supervision`` and ``upkeep`` (background loops), ``counters`` (what ``/metrics`` shows).
"""

__all__ = ["access", "alarm_actions", "auth", "beds", "board", "counters", "ingest", "outbox",
           "pager", "ports", "reports", "session_service", "supervision", "system_alarms",
           "upkeep", "what_if", "writer"]
