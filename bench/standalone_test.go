package bench_test

import (
	"bytes"
	"context"
	"flag"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/bench"
)

// procs matches the "-GOMAXPROCS" suffix of a benchmark name.
var procs = regexp.MustCompile(`-[0-9]+$`)

// Standalone must measure what Run measures, under the same names, and
// print results that benchstat's parser reads with every unit Run reports.
func TestStandaloneMatchesRun(t *testing.T) {
	f := flag.Lookup("test.benchtime")
	require.NotNil(t, f)
	old := f.Value.String()
	t.Cleanup(func() { _ = f.Value.Set(old) })

	opts := []bench.Option{
		bench.WithAlgorithms(backend.ECDSAP256, backend.MLKEM768),
		bench.WithParallelism(1, 2),
	}
	var out, log bytes.Buffer
	s := bench.Standalone{Name: "Backends/backend=software", Benchtime: "5x", Out: &out, Log: &log}
	require.NoError(t, s.RunURI(context.Background(), "software:", opts...))
	require.Equal(t, "5x", f.Value.String(), "Benchtime reaches the testing package")

	results, failed := runBenchmark(openSoftware, append(opts, bench.WithURI("software:"))...)
	require.False(t, failed)
	var want []string
	for _, r := range results {
		if !slices.Contains(want, r.Name) {
			want = append(want, r.Name)
		}
	}

	var got []string
	rd := benchfmt.NewReader(bytes.NewReader(out.Bytes()), "standalone")
	config := map[string]string{}
	for rd.Scan() {
		switch rec := rd.Result(); rec := rec.(type) {
		case *benchfmt.Result:
			for _, c := range rec.Config {
				config[c.Key] = string(c.Value)
			}
			name := string(rec.Name.Full())
			require.True(t, strings.HasPrefix(name, "Backends/backend=software/"), name)
			name = procs.ReplaceAllString(strings.TrimPrefix(name, "Backends/backend=software/"), "")
			got = append(got, name)
			var units []string
			for _, v := range rec.Values {
				units = append(units, v.Unit)
			}
			for _, u := range []string{"sec/op", "B/op", "allocs/op", "p50-sec", "p99-sec", "cpu-sec/op"} { // benchfmt reads ns as sec
				require.Contains(t, units, u, "%s lacks %s", name, u)
			}
			require.Equal(t, 5, rec.Iters)
		case *benchfmt.SyntaxError:
			t.Fatalf("benchstat cannot read the output: %v\n%s", rec, out.String())
		}
	}
	require.NoError(t, rd.Err())
	require.Equal(t, want, got, "Standalone measures what Run measures, in the same order")
	for _, k := range []string{"goos", "goarch", "pkg", "go", "ncpu", "os", "benchtime"} {
		require.NotEmpty(t, config[k], "configuration line %q", k)
	}
}

// A backend that cannot be opened is an error, not an empty result.
func TestStandaloneOpenError(t *testing.T) {
	var out bytes.Buffer
	err := bench.Standalone{Name: "X", Benchtime: "1x", Out: &out}.RunURI(context.Background(), "software:bogus-attribute=1")
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	require.Contains(t, err.Error(), "open backend")

	err = bench.Standalone{Name: "X", Benchtime: "soon", Out: &out}.RunURI(context.Background(), "software:")
	require.ErrorIs(t, err, backend.ErrInvalidInput)
}
