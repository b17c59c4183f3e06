-- Multi-authorization. An approver is a principal (holding the approver
-- role) with the public key its approvals are signed with. A key's state
-- (key_states, by the key's hex ID, like key_owners) is its approval policy
-- per operation class, a blocked flag and a version that grows with every
-- change; key_state_approvers indexes the approvers a policy names, so that
-- an approver still named cannot be deleted. An approval task is an
-- operation parked until its rules are met: body is the canonical encoding
-- every approval signs, request the operation's arguments (forgotten when
-- the task ends), rules the policy's rules for the task's class when it was
-- made (JSON), and approval_task_approvers who may decide it. Times are
-- Unix nanoseconds.

CREATE TABLE approvers (
    principal_id    TEXT    PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
    public_key      BLOB    NOT NULL,
    algorithm       TEXT    NOT NULL,
    created_by      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE key_states (
    key_id          TEXT    PRIMARY KEY,
    policy          TEXT    NOT NULL,
    blocked         INTEGER NOT NULL,
    version         INTEGER NOT NULL
);

CREATE TABLE key_state_approvers (
    key_id          TEXT    NOT NULL REFERENCES key_states (key_id) ON DELETE CASCADE,
    principal_id    TEXT    NOT NULL,
    PRIMARY KEY (key_id, principal_id)
);
CREATE INDEX key_state_approvers_principal ON key_state_approvers (principal_id);

CREATE TABLE approval_tasks (
    id              TEXT    PRIMARY KEY,
    operation       TEXT    NOT NULL,
    class           INTEGER NOT NULL,
    key_id          TEXT    NOT NULL,
    key_label       TEXT    NOT NULL,
    key_algorithm   TEXT    NOT NULL,
    key_version     INTEGER NOT NULL,
    requester       TEXT    NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    requester_role  INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    collect_by      INTEGER,
    params          TEXT    NOT NULL,
    body            BLOB    NOT NULL,
    request         BLOB,
    rules           TEXT    NOT NULL,
    status          INTEGER NOT NULL,
    ended_at        INTEGER
);
CREATE INDEX approval_tasks_key ON approval_tasks (key_id, status);
CREATE INDEX approval_tasks_requester ON approval_tasks (requester, status);

CREATE TABLE approval_task_approvers (
    principal_id    TEXT    NOT NULL,
    task_id         TEXT    NOT NULL REFERENCES approval_tasks (id) ON DELETE CASCADE,
    PRIMARY KEY (principal_id, task_id)
);
CREATE INDEX approval_task_approvers_task ON approval_task_approvers (task_id);

CREATE TABLE approval_decisions (
    task_id         TEXT    NOT NULL REFERENCES approval_tasks (id) ON DELETE CASCADE,
    principal_id    TEXT    NOT NULL,
    approve         INTEGER NOT NULL,
    signature       BLOB    NOT NULL,
    decided_at      INTEGER NOT NULL,
    PRIMARY KEY (task_id, principal_id)
);

-- GetKeyState answers are cached (sqlstore's cache.go), absences too: any
-- change to key_states, an insert included, drops every cached answer.
CREATE TRIGGER key_states_cache_insert AFTER INSERT ON key_states BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
CREATE TRIGGER key_states_cache_update AFTER UPDATE ON key_states BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
CREATE TRIGGER key_states_cache_delete AFTER DELETE ON key_states BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
