package main

import "fmt"

// A goal is one of the project's performance goals: a bound on the ratio
// of two implementations' measurements for one workload, judged at one
// goroutine.
type goal struct {
	Workload workload
	Text     string // what the goal says
	// Kind is what is compared:
	//   "ns": Impl's ns/op ÷ Than's ns/op must be at most Bound;
	//   "allocs": Impl's allocs/op − Than's allocs/op must be at most Bound;
	//   "throughput": Impl's ops/s ÷ Than's ops/s (Than's ns/op ÷ Impl's)
	//   must be at least Bound.
	Kind       string
	Impl, Than string
	Bound      float64
}

// goals are the performance goals of the bench issue.
func goals() []goal {
	var gs []goal
	for _, w := range []workload{
		{"software", "Sign", "ECDSA-P256"},
		{"software", "Sign", "Ed25519"},
		{"software", "Sign", "RSA-2048"},
		{"software", "Decrypt", "RSA-2048"},
	} {
		gs = append(gs,
			goal{Workload: w, Text: "≤ 1.05× stdlib ns/op", Kind: "ns", Impl: "backend", Than: "baseline", Bound: 1.05},
			goal{Workload: w, Text: "≤ 1 extra alloc/op", Kind: "allocs", Impl: "backend", Than: "baseline", Bound: 1})
	}
	for _, alg := range []string{"ECDSA-P256", "RSA-2048"} {
		gs = append(gs, goal{Workload: workload{"pkcs11", "Sign", alg}, Text: "≤ 1.05× raw PKCS #11 ns/op", Kind: "ns", Impl: "backend", Than: "baseline", Bound: 1.05})
	}
	gs = append(gs, goal{Workload: workload{"pkcs11", "Sign", "ECDSA-P256"}, Text: "≥ 1.25× crypto11 throughput", Kind: "throughput", Impl: "backend", Than: "crypto11", Bound: 1.25})
	for _, alg := range []string{"ECDSA-P256", "RSA-2048"} {
		gs = append(gs, goal{Workload: workload{"tpm", "Sign", alg}, Text: "≤ 1.05× raw TPM2_Sign ns/op", Kind: "ns", Impl: "backend", Than: "baseline", Bound: 1.05})
	}
	return gs
}

// goalResult is a goal judged on a dataset.
type goalResult struct {
	goal
	Found    bool
	Value    float64 // the ratio or difference the goal bounds, at p=1
	CPUValue float64 // the same from cpu-ns/op (ratio goals), 0 if unknown
	Worst    float64 // the least favourable Value over every goroutine count
	WorstP   int
	Detail   string // the measurements behind Value
	Met      bool
}

// judge evaluates g at one goroutine, and reports the worst case over all.
func (d *dataset) judge(g goal) goalResult {
	r := goalResult{goal: g}
	ps := d.parallelism(g.Workload)
	for _, p := range ps {
		v, cpu, detail, ok := d.goalValue(g, p)
		if !ok {
			continue
		}
		if p == 1 {
			r.Found, r.Value, r.CPUValue, r.Detail = true, v, cpu, detail
		}
		worse := r.WorstP == 0 || v > r.Worst
		if g.Kind == "throughput" {
			worse = r.WorstP == 0 || v < r.Worst
		}
		if worse {
			r.Worst, r.WorstP = v, p
		}
	}
	switch g.Kind {
	case "throughput":
		r.Met = r.Found && r.Value >= g.Bound
	default:
		r.Met = r.Found && r.Value <= g.Bound
	}
	return r
}

// goalValue computes g's quantity at p goroutines.
func (d *dataset) goalValue(g goal, p int) (v, cpu float64, detail string, ok bool) {
	a := key{g.Workload.Backend, g.Workload.Op, g.Workload.Alg, g.Impl, p}
	b := key{g.Workload.Backend, g.Workload.Op, g.Workload.Alg, g.Than, p}
	switch g.Kind {
	case "allocs":
		x, ok1 := d.get(a, unitAllocs)
		y, ok2 := d.get(b, unitAllocs)
		if !ok1 || !ok2 {
			return 0, 0, "", false
		}
		return x.Median - y.Median, 0, fmt.Sprintf("%s %s, %s %s allocs/op", g.Impl, num(x.Median), g.Than, num(y.Median)), true
	default:
		x, ok1 := d.get(a, unitNs)
		y, ok2 := d.get(b, unitNs)
		if !ok1 || !ok2 || x.Median == 0 || y.Median == 0 {
			return 0, 0, "", false
		}
		v = x.Median / y.Median
		if cx, ok := d.get(a, unitCPU); ok && cx.Median > 0 {
			if cy, ok := d.get(b, unitCPU); ok && cy.Median > 0 {
				cpu = cx.Median / cy.Median
			}
		}
		if g.Kind == "throughput" {
			v = 1 / v
			if cpu != 0 {
				cpu = 1 / cpu
			}
		}
		return v, cpu, fmt.Sprintf("%s %s, %s %s", g.Impl, duration(x.Median), g.Than, duration(y.Median)), true
	}
}
