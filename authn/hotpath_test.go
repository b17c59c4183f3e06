package authn

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sessionOnlyStore answers session lookups from memory; any other call
// panics (nil embedded interface). It isolates authn's own cost on the
// bearer path from the database's.
type sessionOnlyStore struct {
	Store
	rec SessionRecord
}

func (s *sessionOnlyStore) GetSessionByHash(_ context.Context, h []byte) (SessionRecord, error) {
	if string(h) != string(s.rec.Hash) {
		return SessionRecord{}, ErrNotFound
	}
	return s.rec, nil
}

func newHotPathService(tb testing.TB) (*Service, string) {
	peppers, err := NewPepperSet(1, map[uint32][]byte{1: make([]byte, 32)})
	require.NoError(tb, err)
	st := &sessionOnlyStore{}
	now := time.Now()
	s, err := NewService(Config{Store: st, Peppers: peppers, Clock: func() time.Time { return now }, Argon2: cheap})
	require.NoError(tb, err)
	rec, token := s.newSession(sessionSource{principal: "app_1", kind: KindApplication, roles: NewRoleSet(RoleService), method: MethodAPIKey}, time.Time{})
	st.rec = rec
	return s, "Bearer " + token.Reveal()
}

// TestSessionPathAllocatesLittle bounds authn's own allocations per bearer
// request, store excluded.
func TestSessionPathAllocatesLittle(t *testing.T) {
	s, authz := newHotPathService(t)
	r := httptest.NewRequest("GET", "/v1/keys", nil)
	r.Header.Set("Authorization", authz)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := s.AuthenticateRequest(r); err != nil {
			panic(err)
		}
	})
	require.LessOrEqual(t, allocs, 6.0)
}

func BenchmarkAuthenticateSessionWithoutStore(b *testing.B) {
	s, authz := newHotPathService(b)
	r := httptest.NewRequest("GET", "/v1/keys", nil)
	r.Header.Set("Authorization", authz)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.AuthenticateRequest(r); err != nil {
			b.Fatal(err)
		}
	}
}
