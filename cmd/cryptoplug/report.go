package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/conformance"
)

// maxReportLen bounds a report file: a full run on every algorithm is a few
// hundred kilobytes.
const maxReportLen = 64 << 20

func newConformanceReportCommand(a *app) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "report --format md|html REPORT.json",
		Short: "Render a conformance report as Markdown or HTML",
		Long: `Render a JSON report written by 'cryptoplug conformance --report' or 'make conformance REPORT='
(one backend, or the array of every default backend) as a page a person would rather read:
the backend's identity and verdict, the matrix, then every failure with whose fault it is, what
was expected and what came back, then the checks that did not run here and why.

md is GitHub-flavoured Markdown (an issue, a pull request, a wiki page); html is one
self-contained file with no scripts or external resources.`,
		Example: `  cryptoplug conformance report --format md report.json > report.md
  cryptoplug conformance report --format html --out report.html report.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			where := &opError{cmd: "conformance report", uri: args[0]}
			fail := func(err error) error { where.err = err; return where }
			render, ok := reportFormats[strings.ToLower(format)]
			if !ok {
				return fail(usagef("--format %q: want md or html", format))
			}
			data, err := readInput(a.in, args[0], maxReportLen)
			if err != nil {
				return fail(err)
			}
			reports, err := parseReports(data)
			if err != nil {
				return fail(err)
			}
			var buf bytes.Buffer
			if err := render(&buf, reports); err != nil {
				return fail(err)
			}
			if err := writeOutput(a.out, out, buf.Bytes(), 0o644); err != nil {
				return fail(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "md", "md or html")
	cmd.Flags().StringVar(&out, "out", "-", "write to this new file instead of standard output")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"md", "html"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// parseReports reads one report, or an array of them.
func parseReports(data []byte) ([]*conformance.Report, error) {
	data = bytes.TrimSpace(data)
	var reports []*conformance.Report
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &reports); err != nil {
			return nil, usagef("not a conformance report: %v", err)
		}
	} else {
		r := new(conformance.Report)
		if err := json.Unmarshal(data, r); err != nil {
			return nil, usagef("not a conformance report: %v", err)
		}
		reports = append(reports, r)
	}
	for i, r := range reports {
		if r == nil || (r.Backend() == "" && len(r.Results()) == 0) {
			return nil, usagef("not a conformance report: entry %d has neither a backend nor results", i)
		}
	}
	return reports, nil
}

// reportView is a report arranged for reading.
type reportView struct {
	Backend  string
	Info     backend.Info
	Verdict  string // "PASS" or "FAIL"
	Columns  []string
	Rows     []rowView
	Counts   map[conformance.Status]int
	Total    int
	Seconds  float64
	Failures []conformance.Result
	NotRun   []conformance.Result // unsupported and skipped, with their reasons
	Notes    []conformance.Result // passes with a remark
}

type rowView struct {
	Check   string
	Cells   []cellView
	Seconds float64
}

type cellView struct {
	Status conformance.Status // "" where the check does not apply
	Detail string
}

func newReportView(r *conformance.Report) reportView {
	v := reportView{Backend: r.Backend(), Info: r.Info(), Counts: map[conformance.Status]int{}, Verdict: "PASS"}
	if v.Backend == "" {
		v.Backend = "a backend that could not be opened"
	}
	results := r.Results()
	cols := map[string]bool{}
	var checks []string
	cells := map[[2]string]conformance.Result{}
	secs := map[string]float64{}
	for _, res := range results {
		if !slices.Contains(checks, res.Check) {
			checks = append(checks, res.Check)
		}
		cols[res.Algorithm] = true
		cells[[2]string{res.Check, res.Algorithm}] = res
		secs[res.Check] += res.Seconds
		v.Seconds += res.Seconds
		v.Counts[res.Status]++
		v.Total++
		switch res.Status {
		case conformance.StatusFail:
			v.Failures = append(v.Failures, res)
			v.Verdict = "FAIL"
		case conformance.StatusUnsupported, conformance.StatusSkip:
			v.NotRun = append(v.NotRun, res)
		case conformance.StatusPass:
			if res.Detail != "" {
				v.Notes = append(v.Notes, res)
			}
		}
	}
	// The matrix's column order: the backend, the algorithms in their
	// order, then anything else (a future algorithm) sorted.
	if cols["backend"] {
		v.Columns = append(v.Columns, "backend")
	}
	for _, a := range backend.Algorithms() {
		if cols[string(a)] {
			v.Columns = append(v.Columns, string(a))
		}
	}
	for _, c := range slices.Sorted(maps.Keys(cols)) {
		if c != "backend" && !backend.Algorithm(c).Valid() {
			v.Columns = append(v.Columns, c)
		}
	}
	for _, chk := range checks {
		row := rowView{Check: chk, Seconds: secs[chk]}
		for _, c := range v.Columns {
			res := cells[[2]string{chk, c}]
			row.Cells = append(row.Cells, cellView{Status: res.Status, Detail: res.Detail})
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// reportFormats render reports.
var reportFormats = map[string]func(io.Writer, []*conformance.Report) error{
	"md":       renderMarkdown,
	"markdown": renderMarkdown,
	"html":     renderHTML,
}

// mdSymbols are the matrix cells in Markdown.
var mdSymbols = map[conformance.Status]string{
	conformance.StatusPass:        "✅",
	conformance.StatusFail:        "❌",
	conformance.StatusUnsupported: "➖",
	conformance.StatusSkip:        "⏭️",
	"":                            "·",
}

func renderMarkdown(w io.Writer, reports []*conformance.Report) error {
	var b strings.Builder
	for i, r := range reports {
		if i > 0 {
			b.WriteString("\n---\n\n")
		}
		v := newReportView(r)
		fmt.Fprintf(&b, "# Conformance: %s\n\n", mdText(v.Backend))
		verdict := "**PASS**: no check failed"
		if v.Verdict == "FAIL" {
			verdict = fmt.Sprintf("**FAIL**: %d of %d results failed", v.Counts[conformance.StatusFail], v.Total)
		}
		b.WriteString("| | |\n|---|---|\n")
		fmt.Fprintf(&b, "| Verdict | %s |\n", verdict)
		for _, f := range [][2]string{{"Backend", v.Info.Name}, {"Kind", v.Info.Kind}, {"Manufacturer", v.Info.Manufacturer},
			{"Model", v.Info.Model}, {"Firmware", v.Info.Firmware}} {
			if f[1] != "" {
				fmt.Fprintf(&b, "| %s | %s |\n", f[0], mdCell(f[1]))
			}
		}
		fmt.Fprintf(&b, "| Results | %d pass, %d FAIL, %d unsupported, %d skip |\n", v.Counts[conformance.StatusPass],
			v.Counts[conformance.StatusFail], v.Counts[conformance.StatusUnsupported], v.Counts[conformance.StatusSkip])
		fmt.Fprintf(&b, "| Time | %s |\n\n", seconds(v.Seconds))

		b.WriteString("## Matrix\n\n| check |")
		for _, c := range v.Columns {
			fmt.Fprintf(&b, " %s |", mdCell(c))
		}
		b.WriteString(" time |\n|---|")
		for range v.Columns {
			b.WriteString(":-:|")
		}
		b.WriteString("--:|\n")
		for _, row := range v.Rows {
			fmt.Fprintf(&b, "| %s |", mdCell(row.Check))
			for _, c := range row.Cells {
				fmt.Fprintf(&b, " %s |", mdSymbols[c.Status])
			}
			fmt.Fprintf(&b, " %s |\n", seconds(row.Seconds))
		}
		b.WriteString("\n✅ pass · ❌ FAIL · ➖ unsupported by the backend · ⏭️ skipped here · · does not apply\n\n")

		if len(v.Failures) > 0 {
			b.WriteString("## Failures\n\n")
			for _, f := range v.Failures {
				fmt.Fprintf(&b, "### %s / %s\n\n", mdText(f.Check), mdText(f.Algorithm))
				if f.Fault != "" {
					fmt.Fprintf(&b, "- **Fault:** %s\n", faultText(f.Fault))
				}
				if f.Expected != "" {
					fmt.Fprintf(&b, "- **Expected:** %s\n", mdText(f.Expected))
				}
				if f.Got != "" {
					fmt.Fprintf(&b, "- **Got:** %s\n", mdText(f.Got))
				}
				fmt.Fprintf(&b, "- **Detail:** %s\n\n", mdText(f.Detail))
			}
		}
		if len(v.NotRun) > 0 {
			b.WriteString("## Not run here\n\n| check | algorithm | status | why |\n|---|---|---|---|\n")
			for _, res := range v.NotRun {
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdCell(res.Check), mdCell(res.Algorithm), res.Status, mdCell(res.Detail))
			}
			b.WriteString("\n")
		}
		if len(v.Notes) > 0 {
			b.WriteString("## Remarks on passing checks\n\n| check | algorithm | remark |\n|---|---|---|\n")
			for _, res := range v.Notes {
				fmt.Fprintf(&b, "| %s | %s | %s |\n", mdCell(res.Check), mdCell(res.Algorithm), mdCell(res.Detail))
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func faultText(f conformance.Fault) string {
	switch f {
	case conformance.FaultStore:
		return "the store (token, TPM or library) returned a wrong result, which cryptoplug passed through"
	case conformance.FaultCryptoplug:
		return "cryptoplug's own code broke the contract"
	}
	return mdText(string(f))
}

// mdText escapes text from a report (which anyone can write) so that it
// renders as itself: no markup, links, HTML or line breaks.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case strings.ContainsRune("\\`*_[]|~", r): // what is markup inside a line or a table cell
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCell is mdText for a table cell: never empty, so the table keeps its
// shape.
func mdCell(s string) string {
	if s == "" {
		return " "
	}
	return mdText(s)
}

func seconds(s float64) string {
	switch {
	case s < 0.01:
		return "<0.01 s"
	case s < 10:
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.0f s", s)
}

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"seconds": seconds,
	"cellClass": func(s conformance.Status) string {
		if s == "" {
			return "na"
		}
		return string(s)
	},
	"cellText": func(s conformance.Status) string {
		switch s {
		case conformance.StatusPass:
			return "pass"
		case conformance.StatusFail:
			return "FAIL"
		case conformance.StatusUnsupported:
			return "unsup"
		case conformance.StatusSkip:
			return "skip"
		case "":
			return "·"
		}
		return string(s)
	},
	"fault": func(f conformance.Fault) string {
		switch f {
		case conformance.FaultStore:
			return "the store (token, TPM or library) returned a wrong result, which cryptoplug passed through"
		case conformance.FaultCryptoplug:
			return "cryptoplug's own code broke the contract"
		}
		return string(f)
	},
	"count": func(v reportView, s string) int { return v.Counts[conformance.Status(s)] },
}).Parse(reportHTML))

func renderHTML(w io.Writer, reports []*conformance.Report) error {
	views := make([]reportView, 0, len(reports))
	for _, r := range reports {
		views = append(views, newReportView(r))
	}
	return reportTemplate.Execute(w, views)
}
