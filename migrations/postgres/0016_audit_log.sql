-- The audit log: who did what to which target, when, under which request: every
-- administrator's request, every partner's write and every money movement. Append-only:
-- the application never updates or deletes a row, and the triggers refuse it if anything
-- tries (TRUNCATE included). Keep this file in step with migrations/sqlite/0016_audit_log.sql.
CREATE TABLE audit_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    at           BIGINT NOT NULL,
    actor_id     TEXT,                 -- the account; NULL for the system (gateway, jobs)
    actor_role   TEXT NOT NULL CHECK (actor_role IN ('admin', 'partner', 'system')),
    org_id       TEXT,                 -- the partner organisation acted for
    action       TEXT NOT NULL,        -- "PUT /api/v1/partner/shows/{show_id}" or an event type
    target       TEXT NOT NULL,        -- the request path, or the aggregate's id
    status       BIGINT,               -- the HTTP status answered (requests)
    request_id   TEXT,
    detail       TEXT                  -- JSON: amounts and ids of a money movement
);
CREATE INDEX audit_log_by_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_by_target ON audit_log (target, seq);
CREATE INDEX audit_log_by_time ON audit_log (at, seq);

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
