-- Key ownership by group. A principal belongs to groups, holding in each a
-- set of roles; a key belongs to one group (key_owners, by the key's hex
-- ID); an operation on a key needs the route's role both in the credential
-- and in the principal's membership of the key's group. A key without a
-- row belongs to the default group, and every principal that existed
-- before this migration joins the default group with all its roles: what
-- everyone could do before, they still can.

CREATE TABLE access_groups (
    id              TEXT    PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL
);
INSERT INTO access_groups (id, name, created_at) VALUES ('grp_00000000000000000000000000000000', 'default', 0);

CREATE TABLE group_members (
    principal_id    TEXT    NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    group_id        TEXT    NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
    roles           INTEGER NOT NULL,
    PRIMARY KEY (principal_id, group_id)
);
CREATE INDEX group_members_group ON group_members (group_id);
INSERT INTO group_members (principal_id, group_id, roles)
    SELECT id, 'grp_00000000000000000000000000000000', roles FROM principals;

CREATE TABLE key_owners (
    key_id          TEXT    PRIMARY KEY,
    group_id        TEXT    NOT NULL REFERENCES access_groups (id)
);
CREATE INDEX key_owners_group ON key_owners (group_id);
