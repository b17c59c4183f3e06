package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

// Units read from the results, as the bench package reports them.
const (
	unitNs     = "ns/op"
	unitCPU    = "cpu-ns/op"
	unitP50    = "p50-ns"
	unitP99    = "p99-ns"
	unitBytes  = "B/op"
	unitAllocs = "allocs/op"
)

// key names one measured configuration: a result name without the
// GOMAXPROCS suffix, split into its parts.
type key struct {
	Backend string // /backend=, or the results file's base name
	Op      string
	Alg     string
	Impl    string
	P       int // goroutines
}

// workload is a key without impl and p: one table of the report.
type workload struct{ Backend, Op, Alg string }

func (k key) workload() workload { return workload{k.Backend, k.Op, k.Alg} }

func (w workload) String() string { return w.Backend + " · " + w.Op + " " + w.Alg }

// dataset is everything read from the results files.
type dataset struct {
	samples map[key]map[string][]float64 // unit -> one value per run
	order   []key                        // first-seen order
	config  map[string][]string          // file configuration key -> distinct values
	newest  time.Time                    // latest modification time of an input
	files   []string
}

// readFiles parses the Go benchmark format files at paths.
func readFiles(paths []string) (*dataset, error) {
	d := &dataset{samples: map[key]map[string][]float64{}, config: map[string][]string{}}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		if st, err := f.Stat(); err == nil && st.ModTime().After(d.newest) {
			d.newest = st.ModTime()
		}
		err = d.read(f, p)
		f.Close()
		if err != nil {
			return nil, err
		}
		d.files = append(d.files, p)
	}
	if len(d.order) == 0 {
		return nil, errors.New("no cryptoplug bench results (names with op=, alg=, impl=, p=) in the input")
	}
	return d, nil
}

func (d *dataset) read(r io.Reader, fileName string) error {
	defaultBackend := strings.TrimSuffix(filepath.Base(fileName), filepath.Ext(fileName))
	br := benchfmt.NewReader(r, fileName)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			return rec
		case *benchfmt.Result:
			k, ok := parseName(rec.Name, defaultBackend)
			if !ok {
				continue
			}
			for _, c := range rec.Config {
				if c.File {
					d.addConfig(c.Key, string(c.Value))
				}
			}
			units := d.samples[k]
			if units == nil {
				units = map[string][]float64{}
				d.samples[k] = units
				d.order = append(d.order, k)
			}
			for _, v := range rec.Values {
				unit, val := v.Unit, v.Value
				if v.OrigUnit != "" {
					unit, val = v.OrigUnit, v.OrigValue
				}
				units[unit] = append(units[unit], val)
			}
		}
	}
	return br.Err()
}

func (d *dataset) addConfig(k, v string) {
	if !slices.Contains(d.config[k], v) {
		d.config[k] = append(d.config[k], v)
	}
}

// parseName splits "Backends/backend=software/op=Sign/alg=ECDSA-P256/impl=backend/p=8-2".
// Names without op, alg, impl and p are not bench results.
func parseName(n benchfmt.Name, defaultBackend string) (key, bool) {
	_, parts := n.Parts()
	k := key{Backend: defaultBackend}
	for _, part := range parts {
		name, value, ok := strings.Cut(strings.TrimPrefix(string(part), "/"), "=")
		if !ok {
			continue
		}
		switch name {
		case "backend":
			k.Backend = value
		case "op":
			k.Op = value
		case "alg":
			k.Alg = value
		case "impl":
			k.Impl = value
		case "p":
			p, err := strconv.Atoi(value)
			if err != nil {
				return key{}, false
			}
			k.P = p
		}
	}
	return k, k.Op != "" && k.Alg != "" && k.Impl != "" && k.P > 0
}

// summary is the values of one unit for one key.
type summary struct {
	N                int
	Median, Min, Max float64
}

// Spread is the largest distance of a run from the median, relative to it.
func (s summary) Spread() float64 {
	if s.N < 2 || s.Median == 0 {
		return 0
	}
	return max(s.Max-s.Median, s.Median-s.Min) / s.Median
}

func summarize(vs []float64) summary {
	if len(vs) == 0 {
		return summary{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{N: len(s), Median: med, Min: s[0], Max: s[len(s)-1]}
}

// get summarizes unit for k; ok is false when there is no value.
func (d *dataset) get(k key, unit string) (summary, bool) {
	vs := d.samples[k][unit]
	return summarize(vs), len(vs) > 0
}

// workloads lists the workloads by backend (see backends), then in
// first-seen order.
func (d *dataset) workloads() []workload {
	var out []workload
	for _, b := range d.backends() {
		for _, k := range d.order {
			if w := k.workload(); w.Backend == b && !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

// backends lists the backends: the built-in ones in the order of the
// project's documentation, then others in first-seen order.
func (d *dataset) backends() []string {
	var out []string
	for _, k := range d.order {
		if !slices.Contains(out, k.Backend) {
			out = append(out, k.Backend)
		}
	}
	rank := func(b string) int {
		if i := slices.Index([]string{"software", "pkcs11", "tpm"}, b); i >= 0 {
			return i
		}
		return 3
	}
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(rank(a), rank(b)) })
	return out
}

// impls lists w's implementations: backend, baseline, then peers in
// first-seen order.
func (d *dataset) impls(w workload) []string {
	out := []string{}
	for _, k := range d.order {
		if k.workload() == w && !slices.Contains(out, k.Impl) {
			out = append(out, k.Impl)
		}
	}
	rank := func(s string) int {
		switch s {
		case "backend":
			return 0
		case "baseline":
			return 1
		}
		return 2
	}
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(rank(a), rank(b)) })
	return out
}

// parallelism lists w's goroutine counts, ascending.
func (d *dataset) parallelism(w workload) []int {
	var out []int
	for _, k := range d.order {
		if k.workload() == w && !slices.Contains(out, k.P) {
			out = append(out, k.P)
		}
	}
	slices.Sort(out)
	return out
}

// runs returns how many runs each result has, as "3" or "1 to 3".
func (d *dataset) runs() string {
	lo, hi := 0, 0
	for _, units := range d.samples {
		n := len(units[unitNs])
		if lo == 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}
