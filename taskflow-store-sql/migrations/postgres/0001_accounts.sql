-- Users and login sessions.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,          -- normalised (trimmed, lower-cased) by core
    name          text NOT NULL,
    name_lower    text NOT NULL,          -- lower-cased in Rust (Unicode), for substring search
    role          text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    version       bigint NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_role ON users (role, disabled);

CREATE TABLE sessions (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  text NOT NULL,
    revoked     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    generation  bigint NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
