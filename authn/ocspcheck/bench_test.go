package ocspcheck_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/authn/ocspcheck"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck/ocsptest"
)

// BenchmarkCheckCached is the per-request cost of OCSP once the answer is
// cached: what every request over a client certificate pays.
func BenchmarkCheckCached(b *testing.B) {
	p := ocsptest.NewPKI(b, "bench-ca")
	leaf := p.Issue(b, "client", "")
	r := p.StartResponder(b, ocsptest.ResponderOptions{})
	ch, err := ocspcheck.New(ocspcheck.Config{CAs: []ocspcheck.CA{{Certificate: p.CA, ResponderURL: r.URL()}}, HTTPClient: r.HTTPClient()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := ch.Check(ctx, leaf.Cert); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if err := ch.Check(ctx, leaf.Cert); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time this process has used: on a shared machine a
// truer cost than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
