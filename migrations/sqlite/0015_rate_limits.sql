-- Attempt counters (sign-in by address and by account, avatar uploads, mailed links),
-- shared by every instance so that a limit is one limit behind a load balancer. `key` is
-- the SHA-256 of what is counted (an address, an account), so no address is stored here.
-- A fixed window: `count` attempts in the window that ends at `ends_at`.
CREATE TABLE IF NOT EXISTS rate_limits (
    key     TEXT   PRIMARY KEY,
    ends_at BIGINT NOT NULL,
    count   BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_limits_ends_at ON rate_limits (ends_at);
