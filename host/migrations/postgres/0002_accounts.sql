-- Accounts as the plan names them, so a worker that joins a fleet without
-- the plan finds each account's credentials. Only the reference is stored
-- (`env:VAR`, `file:PATH`, `sim`), never a credential.
CREATE TABLE accounts (
    name        TEXT PRIMARY KEY,
    provider    TEXT NOT NULL,
    credentials TEXT NOT NULL
);
