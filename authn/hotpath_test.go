package authn

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/ocspcheck"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck/ocsptest"
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

// BenchmarkAuthenticateSessionOverCertificate is the session hot path of
// a certificate-bound session, store excluded: the bearer check, the
// binding (a SHA-256 of the certificate) and the certificate's cached OCSP
// answer from a real openssl responder. cpu-ns/op is process CPU time.
func BenchmarkAuthenticateSessionOverCertificate(b *testing.B) {
	pki := ocsptest.NewPKI(b, "hotpath-ca")
	leaf := pki.Issue(b, "client", "")
	resp := pki.StartResponder(b, ocsptest.ResponderOptions{})
	checker, err := ocspcheck.New(ocspcheck.Config{CAs: []ocspcheck.CA{{Certificate: pki.CA, ResponderURL: resp.URL()}}, HTTPClient: resp.HTTPClient()})
	require.NoError(b, err)
	peppers, err := NewPepperSet(1, map[uint32][]byte{1: make([]byte, 32)})
	require.NoError(b, err)
	st := &sessionOnlyStore{}
	s, err := NewService(Config{Store: st, Peppers: peppers, Argon2: cheap, CertificateStatus: checker})
	require.NoError(b, err)
	sum := sha256.Sum256(leaf.Cert.Raw)
	rec, token := s.newSession(sessionSource{principal: "app_1", kind: KindApplication, roles: NewRoleSet(RoleService), method: MethodCertificate, cert: sum[:]}, time.Time{})
	st.rec = rec
	r := httptest.NewRequest("GET", "/v1/keys", nil)
	r.Header.Set("Authorization", "Bearer "+token.Reveal())
	r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{leaf.Cert}}
	if _, err := s.AuthenticateRequest(r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		if _, err := s.AuthenticateRequest(r); err != nil {
			b.Fatal(err)
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}
