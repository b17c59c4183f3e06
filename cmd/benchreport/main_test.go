package main

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// results is a small results file as `make bench` writes it: two runs of
// one software workload, a PKCS #11 workload with a peer, and lines that
// are not cryptoplug results.
const results = `go: go1.26.8
ncpu: 2
os: Debian GNU/Linux 12 (bookworm)
benchtime: 1s
goos: linux
goarch: amd64
pkg: github.com/cryptoplug/cryptoplug/bench
cpu: AMD EPYC
BenchmarkBackends/backend=software/op=Sign/alg=ECDSA-P256/impl=backend/p=1-2   1000  30000 ns/op  29000 cpu-ns/op  28000 p50-ns  60000 p99-ns  6064 B/op  59 allocs/op
BenchmarkBackends/backend=software/op=Sign/alg=ECDSA-P256/impl=baseline/p=1-2  1000  29000 ns/op  28500 cpu-ns/op  27000 p50-ns  50000 p99-ns  6064 B/op  59 allocs/op
BenchmarkBackends/backend=software/op=Sign/alg=ECDSA-P256/impl=backend/p=8-2   1000  16000 ns/op  30000 cpu-ns/op  90000 p50-ns  900000 p99-ns  6064 B/op  59 allocs/op
BenchmarkBackends/backend=software/op=Sign/alg=ECDSA-P256/impl=baseline/p=8-2  1000  14000 ns/op  29000 cpu-ns/op  80000 p50-ns  800000 p99-ns  6064 B/op  59 allocs/op
BenchmarkBackends/backend=software/op=Sign/alg=ECDSA-P256/impl=backend/p=1-2   1000  32000 ns/op  29000 cpu-ns/op  28000 p50-ns  60000 p99-ns  6064 B/op  61 allocs/op
BenchmarkBackends/backend=software/op=Sign/alg=ECDSA-P256/impl=baseline/p=1-2  1000  31000 ns/op  28500 cpu-ns/op  27000 p50-ns  50000 p99-ns  6064 B/op  59 allocs/op
BenchmarkBackends/backend=pkcs11/op=Sign/alg=ECDSA-P256/impl=backend/p=1-2     1000  80000 ns/op  80000 cpu-ns/op  79000 p50-ns  99000 p99-ns  752 B/op  16 allocs/op
BenchmarkBackends/backend=pkcs11/op=Sign/alg=ECDSA-P256/impl=baseline/p=1-2    1000  79000 ns/op  79000 cpu-ns/op  78000 p50-ns  98000 p99-ns  104 B/op  4 allocs/op
BenchmarkBackends/backend=pkcs11/op=Sign/alg=ECDSA-P256/impl=crypto11/p=1-2    1000  90000 ns/op  90000 cpu-ns/op  89000 p50-ns  99000 p99-ns  1216 B/op  29 allocs/op
BenchmarkSomethingElse-2  100  5 ns/op
PASS
`

func writeResults(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "results.txt")
	require.NoError(t, os.WriteFile(p, []byte(results), 0o600))
	return p
}

func TestReadFiles(t *testing.T) {
	d, err := readFiles([]string{writeResults(t)})
	require.NoError(t, err)
	require.Equal(t, []string{"software", "pkcs11"}, d.backends())
	require.Equal(t, []string{"backend", "baseline", "crypto11"}, d.impls(workload{"pkcs11", "Sign", "ECDSA-P256"}))
	require.Equal(t, []int{1, 8}, d.parallelism(workload{"software", "Sign", "ECDSA-P256"}))

	ns, ok := d.get(key{"software", "Sign", "ECDSA-P256", "backend", 1}, unitNs)
	require.True(t, ok)
	require.Equal(t, summary{N: 2, Median: 31000, Min: 30000, Max: 32000}, ns)
	require.InDelta(t, 1000.0/31000, ns.Spread(), 1e-9)
	require.Equal(t, "1 to 2", d.runs())
	require.Equal(t, "AMD EPYC", d.configValue("cpu"))
}

func TestGoals(t *testing.T) {
	d, err := readFiles([]string{writeResults(t)})
	require.NoError(t, err)
	byText := map[string]goalResult{}
	for _, g := range goals() {
		byText[g.Workload.String()+" "+g.Text] = d.judge(g)
	}

	ns := byText["software · Sign ECDSA-P256 ≤ 1.05× stdlib ns/op"]
	require.True(t, ns.Found)
	require.InDelta(t, 31000.0/30000, ns.Value, 1e-9)
	require.True(t, ns.Met)
	require.Equal(t, 8, ns.WorstP, "16 µs ÷ 14 µs at p=8 is worse")
	require.InDelta(t, 16.0/14, ns.Worst, 1e-9)

	allocs := byText["software · Sign ECDSA-P256 ≤ 1 extra alloc/op"]
	require.InDelta(t, 1, allocs.Value, 1e-9, "median of 59 and 61 against 59")
	require.True(t, allocs.Met)

	c11 := byText["pkcs11 · Sign ECDSA-P256 ≥ 1.25× crypto11 throughput"]
	require.InDelta(t, 90000.0/80000, c11.Value, 1e-9)
	require.False(t, c11.Met)

	require.False(t, byText["tpm · Sign ECDSA-P256 ≤ 1.05× raw TPM2_Sign ns/op"].Found)
}

func TestRunWritesReportAndChart(t *testing.T) {
	dir := t.TempDir()
	md, svg, notes := filepath.Join(dir, "docs", "benchmarks.md"), filepath.Join(dir, "docs", "benchmarks.svg"), filepath.Join(dir, "notes.md")
	require.NoError(t, os.MkdirAll(filepath.Dir(md), 0o755))
	require.NoError(t, os.WriteFile(notes, []byte("Hand-written findings.\n"), 0o600))
	require.NoError(t, run([]string{writeResults(t)}, md, svg, notes))

	b, err := os.ReadFile(md)
	require.NoError(t, err)
	text := string(b)
	for _, want := range []string{
		"| CPU | AMD EPYC, 2 logical cores",
		"| Go | go1.26.8, linux/amd64 |",
		"| software | Sign ECDSA-P256 | ≤ 1.05× stdlib ns/op | 1.03× (backend 31.0 µs, baseline 30.0 µs) | 1.02× | 1.14× at p=8 | met |",
		"| pkcs11 | Sign ECDSA-P256 | ≥ 1.25× crypto11 throughput | 1.12× (backend 80.0 µs, crypto11 90.0 µs) | 1.12× | 1.12× at p=1 | **missed** |",
		"| tpm | Sign ECDSA-P256 | ≤ 1.05× raw TPM2_Sign ns/op | no data | | | not measured |",
		"| software | Sign ECDSA-P256 | 1.03× (1.02×) | 1.14× (1.03×) |",
		"| 1 | backend | 32.3 k | 31.0 µs ±3% | 1.03× | 29.0 µs | 1.02× | 28.0 µs | 60.0 µs | 6064 | 60 |",
		"![Throughput (operations per second) against goroutines, per backend and workload](benchmarks.svg)",
		"## Notes\n\nHand-written findings.",
		"make bench COUNT=n ",
	} {
		require.Contains(t, text, want)
	}
	require.NotContains(t, text, "SomethingElse")

	f, err := os.Open(svg)
	require.NoError(t, err)
	defer f.Close()
	dec := xml.NewDecoder(f)
	var polylines int
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "the chart is not well-formed XML")
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	require.Equal(t, 2+3, polylines, "one line per impl and workload")
}

func TestNoResults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty.txt")
	require.NoError(t, os.WriteFile(p, []byte("BenchmarkX-2 10 5 ns/op\n"), 0o600))
	_, err := readFiles([]string{p})
	require.ErrorContains(t, err, "no cryptoplug bench results")
}

func TestNiceTicks(t *testing.T) {
	for _, top := range []float64{0.5, 7, 99, 1234, 35_000, 2e6} {
		ticks := niceTicks(top)
		require.Equal(t, 0.0, ticks[0])
		require.GreaterOrEqual(t, ticks[len(ticks)-1], top)
		require.LessOrEqual(t, len(ticks), 7, "top %v: %v", top, ticks)
		require.NotContains(t, strings.Join(mapSlice(ticks, tickLabel), " "), "e+")
	}
}
