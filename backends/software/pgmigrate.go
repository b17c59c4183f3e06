package software

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The PostgreSQL store's schema comes as migrations/postgres/NNNN_name.sql,
// applied in order, each recorded in software_keystore_migrations, as
// authn/sqlstore does for its own tables (in a table of its own, so that
// both may share one schema). A migration is never edited once released:
// changes come as a new file.
//
//go:embed migrations/postgres/*.sql
var pgMigrationFiles embed.FS

// pgMigrationLockID serialises concurrent migrations of one database (an
// arbitrary constant: "cpkeyst" in ASCII).
const pgMigrationLockID = 0x63706b65797374

type pgMigration struct {
	version int
	name    string
	sql     string
}

func loadPGMigrations() ([]pgMigration, error) {
	const dir = "migrations/postgres"
	entries, err := fs.ReadDir(pgMigrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var out []pgMigration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration file %s is not NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(pgMigrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, pgMigration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b pgMigration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations are not numbered 1..n")
		}
	}
	return out, nil
}

// migratePG applies the missing migrations in one transaction, so a failure
// leaves the schema as it was. A schema migrated by a newer program is
// refused rather than used with tables this code does not know.
func migratePG(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadPGMigrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgMigrationLockID)); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS software_keystore_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at BIGINT  NOT NULL
		)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT version FROM software_keystore_migrations`)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for _, v := range applied {
			if v > len(ms) {
				return fmt.Errorf("migrate: the database's key store schema version %d is newer than this program's %d", v, len(ms))
			}
		}
		for _, m := range ms {
			if slices.Contains(applied, m.version) {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migrate: apply %04d_%s: %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO software_keystore_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("migrate: record %04d_%s: %w", m.version, m.name, err)
			}
		}
		return nil
	})
}
