// Command benchreport turns the results of cryptoplug's benchmarks (package
// bench, run by `make bench` into bench/results/<backend>.txt) into
// docs/benchmarks.md and the chart docs/benchmarks.svg: the machine and
// commands, the performance goals with their verdicts, overhead ratios
// (backend ÷ baseline ns/op), throughput and latency per backend,
// algorithm and goroutine count.
//
// Usage:
//
//	go run ./cmd/benchreport [-o docs/benchmarks.md] [-svg docs/benchmarks.svg] [-notes file.md] bench/results/*.txt
//
// Results are read with golang.org/x/perf/benchfmt; every figure is the
// median over the runs of a result (go test -count, or several files).
// Lines that are not cryptoplug bench results are ignored.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("o", "docs/benchmarks.md", "Markdown file to write")
	svgOut := flag.String("svg", "docs/benchmarks.svg", "SVG chart to write (empty: none)")
	notes := flag.String("notes", "", "Markdown file whose text is added as the report's Notes section")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: benchreport [flags] results.txt...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Args(), *out, *svgOut, *notes); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(inputs []string, out, svgOut, notesPath string) error {
	d, err := readFiles(inputs)
	if err != nil {
		return err
	}
	r := &report{data: d, machine: describeMachine(d)}
	if notesPath != "" {
		b, err := os.ReadFile(notesPath)
		if err != nil {
			return err
		}
		r.notes = string(b)
	}
	if svgOut != "" {
		rel, err := filepath.Rel(filepath.Dir(out), svgOut)
		if err != nil {
			rel = svgOut
		}
		r.svgPath = filepath.ToSlash(rel)
		var buf bytes.Buffer
		if err := r.svg(&buf); err != nil {
			return err
		}
		if err := os.WriteFile(svgOut, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := r.markdown(&buf); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
