-- Account security: the last time a session's owner typed their password (sudo mode),
-- the user agent of audited actions, and the indexes that list one person's security events.
ALTER TABLE sessions ADD COLUMN reauth_at INTEGER;
ALTER TABLE audit_log ADD COLUMN user_agent TEXT;
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, id);
CREATE INDEX audit_log_target ON audit_log (target, id);
