package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migrations are embedded per dialect as migrations/<dialect>/NNNN_name.sql
// and applied in order, each recorded in schema_migrations. A migration is
// never edited once released: changes come as a new file, in both dialects.
//
//go:embed migrations
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrationLockID serialises concurrent migrations of one PostgreSQL
// database (an arbitrary constant: "cpauthn" in ASCII).
const migrationLockID = 0x6370617574686e

func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("sqlstore: migration file %s is not NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read migration: %w", err)
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlstore: migrations for %s are not numbered 1..n", dialect)
		}
	}
	return out, nil
}

// migrate applies the missing migrations in one transaction, so a failure
// leaves the schema as it was. A database migrated by a newer binary is
// refused rather than used with a schema this code does not know.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.d.name)
	if err != nil {
		return err
	}
	return s.apply(ctx, ms)
}

// apply applies the migrations of ms that the database lacks. Tests call
// it with a prefix of the list to build an old schema.
func (s *Store) apply(ctx context.Context, ms []migration) error {
	return s.inTx(ctx, "migrate", func(tx *sql.Tx) error {
		if s.d.name == "postgres" {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+strconv.Itoa(migrationLockID)+`)`); err != nil {
				return s.err("migrate: lock", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at BIGINT  NOT NULL
		)`); err != nil {
			return s.err("migrate: create schema_migrations", err)
		}
		applied := map[int]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return s.err("migrate: read schema_migrations", err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return s.err("migrate: read schema_migrations", err)
			}
			applied[v] = true
		}
		if err := rows.Close(); err != nil {
			return s.err("migrate: read schema_migrations", err)
		}
		for v := range applied {
			if v > len(ms) {
				return fmt.Errorf("sqlstore: migrate: database schema version %d is newer than this program's %d", v, len(ms))
			}
		}
		for _, m := range ms {
			if applied[m.version] {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return s.err(fmt.Sprintf("migrate: apply %04d_%s", m.version, m.name), err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
				m.version, m.name, nanos(time.Now())); err != nil {
				return s.err("migrate: record", err)
			}
		}
		return nil
	})
}

// SchemaVersion returns the highest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.read.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, s.err("schema version", err)
	}
	return int(v.Int64), nil
}
