package authn_test

import (
	"crypto/sha256"
	"encoding/base64"
	"syscall"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck/ocsptest"
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

// BenchmarkAuthenticateJWT measures the JWT hot path once the issuer's
// keys are loaded and the token was seen before: parse the header, hash
// the token, one cache lookup, its time window, the principal. "bound"
// adds a certificate-bound token's thumbprint check and the certificate's
// cached OCSP answer (a real openssl responder answered it once).
// cpu-ns/op is process CPU time per request, the figure the 5 µs budget
// is about; ns/op is wall time, noisy on a shared machine.
func BenchmarkAuthenticateJWT(b *testing.B) {
	pki := ocsptest.NewPKI(b, "bench-ca")
	leaf := pki.Issue(b, "client", "")
	resp := pki.StartResponder(b, ocsptest.ResponderOptions{})
	checker, err := ocspcheck.New(ocspcheck.Config{CAs: []ocspcheck.CA{{Certificate: pki.CA, ResponderURL: resp.URL()}}, HTTPClient: resp.HTTPClient()})
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(leaf.Cert.Raw)
	for _, bc := range []struct {
		name  string
		cnf   any
		cert  bool
		ocsp  bool
		extra []string
	}{
		{name: "alone"},
		{name: "bound-over-certificate-with-ocsp", cnf: map[string]string{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}, cert: true, ocsp: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, i := jwtEnv(b, realClock, func(c *authn.Config) {
				if bc.ocsp {
					c.CertificateStatus = checker
				}
			})
			changes := map[string]any{}
			if bc.cnf != nil {
				changes["cnf"] = bc.cnf
			}
			r := request("Authorization", bearer(i.token(b, time.Now(), []string{"keyOperation"}, changes)))
			if bc.cert {
				r = withCert(r, leaf.Cert)
			}
			if _, err := e.svc.AuthenticateRequest(r); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if _, err := e.svc.AuthenticateRequest(r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time the process has used: unlike wall time, not
// inflated by other processes on a shared machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
