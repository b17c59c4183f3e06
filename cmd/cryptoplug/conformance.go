package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/cmd/cryptoplug/internal/vectors"
	"github.com/cryptoplug/cryptoplug/conformance"
)

// conformanceFlags are the options of a run.
type conformanceFlags struct {
	report         string
	algorithms     []string
	budget         string
	wycheproofDir  string
	wycheproofCase int
	wycheproofSet  bool // --wycheproof-limit was given
	checkTimeout   time.Duration
	logPath        string
	progress       string
}

func newConformanceCommand(a *app) *cobra.Command {
	var f conformanceFlags
	cmd := &cobra.Command{
		Use:     "conformance URI",
		Short:   "Run the conformance suite against a backend (exit 8 when a check FAILs)",
		GroupID: groupTest,
		Long: `Run cryptoplug's conformance suite against the backend: the checks 'make conformance' runs,
without a Go toolchain. It prints the matrix (checks down, algorithms across: pass, FAIL, unsup,
skip), writes the JSON report with --report, and exits 0 when no check FAILed, 8 when one did.

Safe on a production token: the suite creates, uses and deletes only keys labelled
cryptoplug-conformance-<run>-…, removes them even when a check fails, never tries a wrong PIN and
never touches another object. What the token does not offer shows as unsup, not as a failure.

The known-answer checks read Wycheproof and Go's Ed25519 vectors: built into binaries made with
'make cryptoplug'; otherwise from --wycheproof-dir, or the Go module cache when a go command is
installed, and skipped (with a warning) when none of these is available.

'cryptoplug conformance report' renders a saved report as Markdown or HTML.`,
		Example: `  cryptoplug conformance 'pkcs11:token=MyToken?module-path=/opt/vendor/lib/libpkcs11.so&pin-source=file:/root/pin' --report report.json
  cryptoplug conformance "$URI" --algorithms ECDSA-P256,RSA-2048 --budget small
  cryptoplug conformance report --format html report.json > report.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.wycheproofSet = cmd.Flags().Changed("wycheproof-limit")
			return a.runConformance(cmd, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.report, "report", "", "write the JSON report to this file, as make conformance REPORT= does")
	fl.StringSliceVar(&f.algorithms, "algorithms", nil, "test only these algorithms (default: every algorithm; those the backend lacks show as unsup)")
	fl.StringVar(&f.budget, "budget", "full", "full, or small for a slow token: fewer signatures, operations and known-answer cases (the report says what was reduced)")
	fl.StringVar(&f.wycheproofDir, "wycheproof-dir", "", "read the Wycheproof vectors from this checkout of github.com/C2SP/wycheproof (holding testvectors_v1)")
	fl.IntVar(&f.wycheproofCase, "wycheproof-limit", 0, "known-answer cases per vector file: 0 disables them, -1 runs all (default: the budget's)")
	fl.DurationVar(&f.checkTimeout, "check-timeout", 0, "bound each check on each algorithm (default 5m), so a hung token fails one check rather than the run")
	fl.StringVar(&f.logPath, "log", "", "write the suite's transcript (every check's messages) to this file, - for standard error")
	fl.StringVar(&f.progress, "progress", "auto", "on standard error: bar (one status line with a time estimate, redrawn in place), lines (a line per finished check), off; auto is bar on a terminal, off otherwise")
	_ = cmd.RegisterFlagCompletionFunc("progress", cobra.FixedCompletions([]string{"auto", "bar", "lines", "off"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("budget", cobra.FixedCompletions([]string{"full", "small"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("algorithms", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, a := range backend.Algorithms() {
			out = append(out, string(a))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
	cmd.AddCommand(newConformanceReportCommand(a))
	return cmd
}

func (a *app) runConformance(cmd *cobra.Command, raw string, f *conformanceFlags) error {
	t, err := parseTarget("conformance", raw)
	if err != nil {
		return err
	}
	opts, cleanup, err := a.conformanceOptions(f)
	if err != nil {
		return t.fail("", err)
	}
	defer cleanup()

	// The PIN is asked for once, before the run: the suite opens the
	// backend several times (for the closed and reopen checks).
	ctx, cancel := a.context(cmd)
	defer cancel()
	probe, err := a.open(ctx, "conformance", raw, withLogin)
	if err != nil {
		return err
	}
	uri := probe.raw
	if err := probe.b.Close(); err != nil {
		return t.fail("", err)
	}

	var log io.Writer
	switch f.logPath {
	case "":
	case "-":
		log = a.errw
	default:
		lf, err := os.OpenFile(f.logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return t.fail("", usagef("--log %s: %v", f.logPath, unwrapPath(err)))
		}
		defer lf.Close()
		log = lf
	}

	progress, err := a.progressWriter(f.progress)
	if err != nil {
		return t.fail("", err)
	}
	if progress != nil {
		opts = append(opts, conformance.WithProgress(progress))
	}
	if c, ok := progress.(io.Closer); ok {
		defer c.Close()
	}
	if bar, ok := progress.(*progressBar); ok && log == a.errw {
		log = bar // the transcript scrolls above the bar instead of through it
	}
	rep := conformance.RunStandalone(conformance.OpenURI(uri), log, opts...)
	if c, ok := progress.(io.Closer); ok {
		_ = c.Close() // erase the bar before the matrix is printed
	}

	if f.report != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(f.report, append(b, '\n'), 0o644)
		}
		if err != nil {
			return t.fail("", fmt.Errorf("write the report: %w", unwrapPath(err)))
		}
	}
	if a.json() {
		if err := printJSON(a.out, rep); err != nil {
			return t.fail("", err)
		}
	} else if err := rep.Matrix(a.out); err != nil {
		return t.fail("", err)
	}
	if n := len(rep.Failures()); n > 0 {
		return t.fail("", fmt.Errorf("%d of %d results FAILed: %w", n, len(rep.Results()), errConformanceFail))
	}
	return nil
}

// progressWriter is where the suite's progress goes for --progress mode:
// nil for none.
func (a *app) progressWriter(mode string) (io.Writer, error) {
	switch strings.ToLower(mode) {
	case "off":
		return nil, nil
	case "lines":
		return a.errw, nil
	case "bar":
		return newProgressBar(a.errw), nil
	case "auto":
		if f, ok := a.errw.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return newProgressBar(a.errw), nil
		}
		return nil, nil
	}
	return nil, usagef("--progress %q: want auto, bar, lines or off", mode)
}

// conformanceOptions turns the flags into suite options. cleanup removes
// extracted vectors.
func (a *app) conformanceOptions(f *conformanceFlags) (opts []conformance.Option, cleanup func(), err error) {
	cleanup = func() {}
	if len(f.algorithms) > 0 {
		var algs []backend.Algorithm
		for _, s := range f.algorithms {
			alg, err := parseAlgorithm(s)
			if err != nil {
				return nil, cleanup, fmt.Errorf("--algorithms: %w", err)
			}
			algs = append(algs, alg)
		}
		opts = append(opts, conformance.WithAlgorithms(algs...))
	}
	if !slices.Contains([]string{"auto", "bar", "lines", "off"}, strings.ToLower(f.progress)) {
		return nil, cleanup, usagef("--progress %q: want auto, bar, lines or off", f.progress)
	}
	switch strings.ToLower(f.budget) {
	case "full":
	case "small":
		opts = append(opts, smallBudget()...)
	default:
		return nil, cleanup, usagef("--budget %q: want full or small", f.budget)
	}
	if f.checkTimeout < 0 {
		return nil, cleanup, usageErr("--check-timeout must not be negative")
	}
	if f.checkTimeout > 0 {
		opts = append(opts, conformance.WithCheckTimeout(f.checkTimeout))
	}
	if f.wycheproofSet {
		if f.wycheproofCase < -1 {
			return nil, cleanup, usageErr("--wycheproof-limit: want -1 (all), 0 (none) or a count")
		}
		opts = append(opts, conformance.WithWycheproofLimit(f.wycheproofCase))
	}
	switch {
	case f.wycheproofDir != "":
		opts = append(opts, conformance.WithWycheproofDir(f.wycheproofDir))
	case vectors.Embedded():
		d, err := vectors.Extract()
		if err != nil {
			return nil, cleanup, err
		}
		cleanup = func() { _ = d.Remove() }
		opts = append(opts, conformance.WithWycheproofDir(d.Wycheproof))
		// The suite reads Go's Ed25519 vectors under GOROOT; point it at
		// the copy this binary carries, so that the run is the same with
		// or without a Go installation. No go command is run: the
		// Wycheproof directory is given.
		if err := os.Setenv("GOROOT", d.GOROOT); err != nil {
			return nil, cleanup, err
		}
	default:
		if _, err := exec.LookPath("go"); err != nil && !(f.wycheproofSet && f.wycheproofCase == 0) {
			fmt.Fprintln(a.errw, "cryptoplug conformance: warning: this binary carries no test vectors, --wycheproof-dir is not given and there is no go command to fetch them: the known-answer checks are skipped (build with 'make cryptoplug' to carry them)")
			opts = append(opts, conformance.WithWycheproofLimit(0))
		}
	}
	return opts, cleanup, nil
}

// smallBudget is the budget for a slow token: what `go test -short` runs.
func smallBudget() []conformance.Option {
	return []conformance.Option{
		conformance.WithSignatureBudget(300),
		conformance.WithConcurrency(8, 10),
		conformance.WithWycheproofLimit(24),
	}
}
