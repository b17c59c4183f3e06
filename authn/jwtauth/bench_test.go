package jwtauth_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
)

// BenchmarkVerify measures one token check: "cached" is the hot path of a
// token already seen (hash, map lookup, time window), "cached-bound" adds
// the certificate binding (a SHA-256 of the certificate), "uncached" is
// the first sight of a token (parse, signature, claims).
func BenchmarkVerify(b *testing.B) {
	c := newClock()
	for _, alg := range []string{jwtauth.ES256, jwtauth.EdDSA, jwtauth.RS256} {
		k := softwareKey(b, alg)
		cert := clientCert(b, "bench")
		is := jwtauth.Issuer{Name: "bench", Issuer: testIss, JWKSFile: writeJWKS(b, "", k.jwk(false)),
			Audiences: []string{testAud}, Algorithms: []string{alg}}
		tok := k.mint(b, claims(c, map[string]any{"roles": []string{"keyOperation", "service"}}))
		bound := k.mint(b, claims(c, map[string]any{"cnf": map[string]string{"x5t#S256": thumbprint(cert)}}))
		for _, bc := range []struct {
			name  string
			cache int
			token string
		}{{"cached", 0, tok}, {"cached-bound", 0, bound}, {"uncached", -1, tok}} {
			b.Run(alg+"/"+bc.name, func(b *testing.B) {
				v, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{is}, RoleNames: testRoles, Clock: c.now, CacheSize: bc.cache})
				if err != nil {
					b.Fatal(err)
				}
				defer v.Close()
				ctx := context.Background()
				if _, err := v.Verify(ctx, bc.token, cert); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				cpu := cpuTime()
				for b.Loop() {
					if _, err := v.Verify(ctx, bc.token, cert); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime is the CPU time this process has used. On a shared machine it is
// a truer cost per request than wall time: other processes' load does not
// count.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
