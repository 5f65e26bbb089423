"""HTTP and WebSocket: the routes, the board's fan-out, and the JSON and export shapes.

- ``app``: the FastAPI application; ``deps``: what routes work with, and tokens;
- ``session_routes``, ``alarm_routes`` (with the board's WebSocket),
  ``review_routes``, ``admin_routes``, ``vital_routes``, ``metrics`` (Prometheus);
- ``hub``: each screen's bounded queue (the app's board feed);
- ``messages``: the board's JSON; ``exports``: CSV, JSONL and the HTML report, its
  charts drawn by ``report_charts``; ``fhir``: the FHIR Bundle.
"""

__all__ = ["admin_routes", "alarm_routes", "app", "deps", "exports", "fhir", "hub", "messages",
           "metrics", "report_charts", "review_routes", "session_routes", "vital_routes"]
