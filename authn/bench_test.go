package authn_test

import (
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
)

func realClock(c *authn.Config) { c.Clock = time.Now }

func benchmarkSession(b *testing.B, e *env) {
	_, keys := e.app(b, authn.RoleService)
	s, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: keys[0].PrincipalID, BasicPassword: keys[0].Key})
	if err != nil {
		b.Fatal(err)
	}
	r := request("Authorization", bearer(s.Token))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.svc.AuthenticateRequest(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateSession measures the hot path: parse the bearer
// header, one HMAC, one indexed lookup.
func BenchmarkAuthenticateSession(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchmarkSession(b, newEnv(b, realClock)) })
	b.Run("postgres", func(b *testing.B) {
		st, err := sqlstore.OpenPostgres(ctx, pgtest.Shared(b).NewSchema(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		benchmarkSession(b, newEnvOn(b, st, "", realClock))
	})
}

func BenchmarkAuthenticateSessionParallel(b *testing.B) {
	e := newEnv(b, realClock)
	_, keys := e.app(b, authn.RoleService)
	s, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: keys[0].PrincipalID, BasicPassword: keys[0].Key})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := request("Authorization", bearer(s.Token))
		for pb.Next() {
			if _, err := e.svc.AuthenticateRequest(r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchmarkAuthorizeKey(b *testing.B, e *env) {
	_, keys := e.app(b, authn.RoleKeyOperation)
	p, err := e.svc.Authenticate(ctx, authn.Credentials{APIKey: keys[0].Key})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.svc.AuthorizeKey(ctx, p, "00112233445566778899aabbccddeeff", authn.RoleKeyOperation); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorizeKey measures what group ownership adds to every key
// operation: one prepared query resolving the key's group and the caller's
// roles in it.
func BenchmarkAuthorizeKey(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchmarkAuthorizeKey(b, newEnv(b, realClock)) })
	b.Run("postgres", func(b *testing.B) {
		st, err := sqlstore.OpenPostgres(ctx, pgtest.Shared(b).NewSchema(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		benchmarkAuthorizeKey(b, newEnvOn(b, st, "", realClock))
	})
}
