-- The clinical workflow (issue 15): the infusion plan of a session (JSON:
-- weight, drug, dose, duration, concentration; empty for sessions opened
-- without one), what was done to the pump, the nurse's scores, adverse
-- events and the signed fit-to-leave checklist. Each row names its user.
ALTER TABLE sessions ADD COLUMN plan TEXT;
CREATE INDEX sessions_by_patient ON sessions (patient_ref);
CREATE TABLE infusion_events (
    id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
    user TEXT NOT NULL, event TEXT NOT NULL, rate_mg_per_kg_h REAL, reason TEXT
);
CREATE INDEX infusion_events_by_session ON infusion_events (session_id, id);
CREATE TABLE assessments (
    id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
    user TEXT NOT NULL, scale TEXT NOT NULL, value INTEGER NOT NULL
);
CREATE INDEX assessments_by_session ON assessments (session_id, id);
CREATE TABLE adverse_events (
    id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
    user TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    intervention TEXT NOT NULL, outcome TEXT, note TEXT
);
CREATE INDEX adverse_events_by_session ON adverse_events (session_id, id);
CREATE TABLE discharge_checklists (
    session_id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL, user TEXT NOT NULL,
    scale TEXT NOT NULL, score INTEGER NOT NULL, escort INTEGER NOT NULL,
    nausea INTEGER NOT NULL, vitals TEXT NOT NULL
);
