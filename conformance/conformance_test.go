package conformance_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/conformance"
	"github.com/cryptoplug/cryptoplug/internal/scryptcost"
)

var (
	backendURI = flag.String("backend", "",
		"URI of the backend to test (its package must be imported by a default_*_test.go file); empty: every built-in backend on its embedded default")
	reportPath = flag.String("report", "",
		"write the results as JSON to this file: one {\"backend\", \"results\"} object with -backend, an array of them for the defaults (a relative path is relative to the conformance directory)")
	progress = flag.Bool("progress", false,
		"write a line to stderr as each check finishes, with the time elapsed and an estimate of the time left")
	budget = flag.String("budget", "full",
		"\"full\", or \"small\" for a slow token (fewer signatures, vectors and concurrent operations, shorter long messages); the report lists what was reduced")
	onlyChecks = flag.String("checks", "",
		"comma-separated names of the checks to run (the rows of the matrix); empty: all")
)

// runs are the reports of this process, printed as matrices after the tests.
var runs struct {
	sync.Mutex
	names   []string
	reports []*conformance.Report
}

func newReport(name string) *conformance.Report {
	r := new(conformance.Report)
	runs.Lock()
	defer runs.Unlock()
	runs.names = append(runs.names, name)
	runs.reports = append(runs.reports, r)
	return r
}

// TestMain prints each backend's matrix after the run and writes -report.
// go test shows the matrix when a test fails, with -v, or when run without
// package arguments (cd conformance && go test -run TestConformance).
func TestMain(m *testing.M) {
	// The suite's directory stores are created at scrypt's lowest cost:
	// the cost is not what it tests.
	scryptcost.SetForTests(scryptcost.Min)
	code := m.Run()
	runs.Lock()
	defer runs.Unlock()
	for i, r := range runs.reports {
		fmt.Printf("\n=== %s\n", runs.names[i])
		if err := r.Matrix(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "print matrix:", err)
		}
	}
	if *reportPath != "" && len(runs.reports) > 0 {
		var v any = runs.reports
		if *backendURI != "" {
			v = runs.reports[0]
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err == nil {
			err = os.WriteFile(*reportPath, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "write report:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// options applies the flags, and bounds the run in -short mode.
func options(t *testing.T, rep *conformance.Report) []conformance.Option {
	opts := []conformance.Option{conformance.WithReport(rep)}
	switch *budget {
	case "full":
	case "small":
		opts = append(opts, conformance.WithSmallBudget())
	default:
		t.Fatalf("-budget %q: want full or small", *budget)
	}
	if testing.Short() {
		opts = append(opts,
			conformance.WithSignatureBudget(300),
			conformance.WithConcurrency(8, 10),
			conformance.WithWycheproofLimit(24))
	}
	if *progress {
		opts = append(opts, conformance.WithProgress(os.Stderr))
	}
	if *onlyChecks != "" {
		opts = append(opts, conformance.WithChecks(strings.Split(*onlyChecks, ",")...))
	}
	return opts
}

// TestConformance runs the suite on -backend, or on every registered
// default backend as TestConformance/<name>/<check>/<algorithm>.
func TestConformance(t *testing.T) {
	if *backendURI != "" {
		rep := newReport(backend.RedactURI(*backendURI))
		conformance.Run(t, conformance.OpenURI(*backendURI), options(t, rep)...)
		return
	}
	if len(defaultBackends) == 0 {
		t.Fatal("no default backend is registered")
	}
	for _, d := range defaultBackends {
		t.Run(d.name, func(t *testing.T) {
			uri := d.setup(t)
			rep := newReport(d.name)
			conformance.Run(t, conformance.OpenURI(uri), options(t, rep)...)
		})
	}
}
