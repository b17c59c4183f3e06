package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Status is the outcome of one check on one algorithm.
type Status string

// The statuses a [Result] can have.
const (
	// StatusPass: the check ran and everything it asked for worked.
	StatusPass Status = "pass"
	// StatusFail: the backend did something the contract forbids, or refused
	// something it claims to do.
	StatusFail Status = "fail"
	// StatusUnsupported: the backend does not claim what the check needs, or
	// refused every variant of it with ErrUnsupported where that is allowed.
	StatusUnsupported Status = "unsupported"
	// StatusSkip: the check could not run here; Detail says why.
	StatusSkip Status = "skip"
)

// columnBackend is the Algorithm of results about the backend as a whole.
const columnBackend = "backend"

// Result is one cell of the matrix: check Check on algorithm Algorithm
// ("backend" for checks about the backend as a whole).
type Result struct {
	Check     string `json:"check"`
	Algorithm string `json:"algorithm"`
	Status    Status `json:"status"`
	// Detail says why a check failed, was skipped or is unsupported, and
	// for passing checks notes what was refused or measured. It never holds
	// a PIN or key material.
	Detail string `json:"detail"`
	// Fault says, for a failure, whose it is: [FaultStore] when the store
	// (token, TPM, library) returned a wrong result that cryptoplug passed
	// through, [FaultCryptoplug] when cryptoplug's own code broke the
	// contract. Empty for other statuses and when it cannot be told.
	Fault Fault `json:"fault,omitempty"`
	// Expected and Got are, for a failure, what the check expected and what
	// came back, in a few words each (never key material).
	Expected string `json:"expected,omitempty"`
	Got      string `json:"got,omitempty"`
	// Seconds is how long the check took on this algorithm.
	Seconds float64 `json:"seconds"`
}

// Fault names who is to blame for a [StatusFail] result.
type Fault string

// The faults a failing [Result] can carry.
const (
	// FaultStore: the store answered wrongly (a signature that does not
	// verify, a wrong plaintext, an invalid input accepted) and cryptoplug
	// passed the answer through.
	FaultStore Fault = "store"
	// FaultCryptoplug: cryptoplug itself broke the contract (a wrong error
	// type, a panic, a false capability, a leak).
	FaultCryptoplug Fault = "cryptoplug"
)

// Report collects the results of a run. Pass one to [Run] with [WithReport];
// the zero value is ready to use. A Report is safe for concurrent use, but
// read it only after Run returns to see every result.
type Report struct {
	mu      sync.Mutex
	backend string
	info    backend.Info
	reduced []string
	results []Result
}

// Reduced lists, in words, every way the run did less than the full suite:
// a smaller budget ([WithSmallBudget], [WithSignatureBudget], …), a subset
// of checks or algorithms. Empty for a full run.
func (r *Report) Reduced() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reduced)
}

func (r *Report) setReduced(reduced []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reduced = slices.Clone(reduced)
}

// Info returns what the backend under test said about itself (name, kind,
// manufacturer, model, firmware; the URI redacted).
func (r *Report) Info() backend.Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info
}

func (r *Report) setInfo(info backend.Info) {
	r.mu.Lock()
	defer r.mu.Unlock()
	info.URI = backend.RedactURI(info.URI)
	r.info = info
}

// Backend returns the URI (with secrets removed) of the backend the results
// are about, or its name when it reports no URI.
func (r *Report) Backend() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.backend
}

// Results returns a copy of the results in the order the checks ran.
func (r *Report) Results() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.results)
}

// Failures returns the results whose status is [StatusFail].
func (r *Report) Failures() []Result {
	var out []Result
	for _, res := range r.Results() {
		if res.Status == StatusFail {
			out = append(out, res)
		}
	}
	return out
}

// Lookup returns the result of check on algorithm (an [backend.Algorithm]
// name, or "backend"). ok is false when the check did not run there.
func (r *Report) Lookup(check, algorithm string) (res Result, ok bool) {
	for _, res := range r.Results() {
		if res.Check == check && res.Algorithm == algorithm {
			return res, true
		}
	}
	return Result{}, false
}

func (r *Report) setBackend(uri string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.backend = uri
}

func (r *Report) add(res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
}

type reportJSON struct {
	Backend string       `json:"backend"`
	Info    backend.Info `json:"info"`
	Reduced []string     `json:"reduced,omitempty"`
	Results []Result     `json:"results"`
}

// MarshalJSON encodes the report as
// {"backend": "<uri>", "info": {…}, "reduced": ["…"], "results": [{"check",
// "algorithm", "status", "detail", "fault", "expected", "got", "seconds"},
// …]}; "reduced" is there only for a reduced run.
func (r *Report) MarshalJSON() ([]byte, error) {
	res := r.Results()
	if res == nil {
		res = []Result{}
	}
	return json.Marshal(reportJSON{Backend: r.Backend(), Info: r.Info(), Reduced: r.Reduced(), Results: res})
}

// UnmarshalJSON decodes what MarshalJSON produces.
func (r *Report) UnmarshalJSON(b []byte) error {
	var v reportJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.backend, r.info, r.reduced, r.results = v.Backend, v.Info, v.Reduced, v.Results
	return nil
}

// Matrix writes the results as a table, checks down and algorithms across,
// each cell "pass", "FAIL", "unsup" or "skip" ("." where the check does not
// apply to that algorithm), followed by every failure (whose fault it is,
// what was expected, what came back, and the detail), a count of each
// status, and what a reduced run left out.
func (r *Report) Matrix(w io.Writer) error {
	results := r.Results()
	var checks []string
	cols := map[string]bool{}
	cells := map[[2]string]Status{}
	for _, res := range results {
		if !slices.Contains(checks, res.Check) {
			checks = append(checks, res.Check)
		}
		cols[res.Algorithm] = true
		cells[[2]string{res.Check, res.Algorithm}] = res.Status
	}
	var order []string
	if cols[columnBackend] {
		order = append(order, columnBackend)
	}
	for _, a := range backend.Algorithms() {
		if cols[string(a)] {
			order = append(order, string(a))
		}
	}
	for _, c := range slices.Sorted(maps.Keys(cols)) { // anything else, such as a future algorithm
		if c != columnBackend && !backend.Algorithm(c).Valid() {
			order = append(order, c)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "conformance matrix for %s\n", r.Backend())
	for _, red := range r.Reduced() {
		fmt.Fprintf(&b, "reduced: %s\n", red)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	fmt.Fprint(tw, "check")
	for _, c := range order {
		fmt.Fprintf(tw, "\t%s", c)
	}
	fmt.Fprintln(tw, "\t")
	for _, chk := range checks {
		fmt.Fprint(tw, chk)
		for _, c := range order {
			fmt.Fprintf(tw, "\t%s", cellText(cells[[2]string{chk, c}]))
		}
		fmt.Fprintln(tw, "\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	counts := map[Status]int{}
	for _, res := range results {
		counts[res.Status]++
		if res.Status == StatusFail {
			fmt.Fprintf(&b, "FAIL %s\n", failLine(res))
		}
	}
	fmt.Fprintf(&b, "%d results: %d pass, %d FAIL, %d unsupported, %d skip\n",
		len(results), counts[StatusPass], counts[StatusFail], counts[StatusUnsupported], counts[StatusSkip])
	_, err := io.WriteString(w, b.String())
	return err
}

// failLine describes a failing result on one line: where, whose fault,
// what was expected and got, and the detail:
// "sign-pss-sha256/RSA-2048 [store]: expected …; got …; detail: …".
func failLine(res Result) string {
	s := res.Check + "/" + res.Algorithm
	if res.Fault != "" {
		s += " [" + string(res.Fault) + "]"
	}
	s += ": "
	if res.Expected != "" || res.Got != "" {
		s += "expected " + orDash(res.Expected) + "; got " + orDash(res.Got) + "; detail: "
	}
	return s + res.Detail
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cellText(s Status) string {
	switch s {
	case StatusPass:
		return "pass"
	case StatusFail:
		return "FAIL"
	case StatusUnsupported:
		return "unsup"
	case StatusSkip:
		return "skip"
	case "":
		return "."
	}
	return string(s)
}
