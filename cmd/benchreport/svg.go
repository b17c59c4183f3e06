package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Chart geometry, in SVG user units (pixels).
const (
	panelW, panelH = 300, 210
	padLeft        = 50 // y tick labels
	padRight       = 14
	padTop         = 30 // panel title
	padBottom      = 36 // x tick labels and axis name
	legendH        = 56
	maxCols        = 4
)

// implColor gives each implementation a fixed color, the same in every
// panel.
var implColor = map[string]string{
	"backend":      "#1f6fb4",
	"baseline":     "#333333",
	"crypto11":     "#e3761b",
	"go-tpm-tools": "#2b9a3a",
}

var extraColors = []string{"#9c3fb5", "#b5323a", "#17a2b8", "#8c6d31"}

// svg writes a chart of throughput against goroutines: one panel per
// workload, one line per implementation.
func (r *report) svg(w io.Writer) error {
	d := r.data
	ws := d.workloads()
	cols := min(maxCols, len(ws))
	rows := (len(ws) + cols - 1) / cols
	width, height := cols*panelW, legendH+rows*panelH
	p := &printer{w: w}
	p.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	p.f(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p.f(`<text x="12" y="20" font-size="14" font-weight="bold">Throughput (operations/s, median of runs) against goroutines</text>` + "\n")

	// Legend: every implementation in the data.
	var impls []string
	for _, wl := range ws {
		for _, im := range d.impls(wl) {
			if !slices.Contains(impls, im) {
				impls = append(impls, im)
			}
		}
	}
	colors := map[string]string{}
	extra := 0
	for _, im := range impls {
		if c, ok := implColor[im]; ok {
			colors[im] = c
		} else {
			colors[im] = extraColors[extra%len(extraColors)]
			extra++
		}
	}
	x := 12
	for _, im := range impls {
		p.f(`<line x1="%d" y1="40" x2="%d" y2="40" stroke="%s" stroke-width="2.5"%s/><circle cx="%d" cy="40" r="3" fill="%s"/>`,
			x, x+22, colors[im], dash(im), x+11, colors[im])
		p.f(`<text x="%d" y="44">%s</text>`+"\n", x+28, esc(im))
		x += 40 + 7*len(im)
	}

	ps := d.allParallelism()
	for i, wl := range ws {
		ox, oy := (i%cols)*panelW, legendH+(i/cols)*panelH
		r.panel(p, wl, ox, oy, ps, colors)
	}
	p.f("</svg>\n")
	return p.err
}

// panel draws one workload at (ox, oy).
func (r *report) panel(p *printer, wl workload, ox, oy int, ps []int, colors map[string]string) {
	d := r.data
	plotW, plotH := float64(panelW-padLeft-padRight), float64(panelH-padTop-padBottom)
	x0, y0 := float64(ox+padLeft), float64(oy+padTop)

	type point struct{ p, ops float64 }
	lines := map[string][]point{}
	top := 0.0
	for _, im := range d.impls(wl) {
		for _, n := range d.parallelism(wl) {
			if s, ok := d.get(key{wl.Backend, wl.Op, wl.Alg, im, n}, unitNs); ok && s.Median > 0 {
				ops := 1e9 / s.Median
				lines[im] = append(lines[im], point{float64(n), ops})
				top = max(top, ops)
			}
		}
	}
	ticks := niceTicks(top)
	yMax := ticks[len(ticks)-1]
	lo, hi := math.Log2(float64(ps[0])), math.Log2(float64(ps[len(ps)-1]))
	xOf := func(n float64) float64 {
		if hi == lo {
			return x0 + plotW/2
		}
		return x0 + (math.Log2(n)-lo)/(hi-lo)*plotW
	}
	yOf := func(v float64) float64 { return y0 + plotH - v/yMax*plotH }

	p.f(`<g>`+"\n"+`<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", ox+10, oy+18, esc(wl.String()))
	for _, t := range ticks {
		y := yOf(t)
		p.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`, x0, y, x0+plotW, y)
		p.f(`<text x="%.1f" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", x0-5, y+4, esc(tickLabel(t)))
	}
	for _, n := range ps {
		x := xOf(float64(n))
		p.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999"/>`, x, y0+plotH, x, y0+plotH+4)
		p.f(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%d</text>`+"\n", x, y0+plotH+16, n)
	}
	p.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999"/>`, x0, y0+plotH, x0+plotW, y0+plotH)
	p.f(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">goroutines</text>`+"\n", x0+plotW/2, y0+plotH+30)

	for _, im := range d.impls(wl) {
		pts := lines[im]
		if len(pts) == 0 {
			continue
		}
		coords := make([]string, len(pts))
		for i, pt := range pts {
			coords[i] = fmt.Sprintf("%.1f,%.1f", xOf(pt.p), yOf(pt.ops))
		}
		p.f(`<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"><title>%s</title></polyline>`+"\n",
			colors[im], dash(im), strings.Join(coords, " "), esc(im))
		for _, pt := range pts {
			p.f(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s, %d goroutines: %s ops/s</title></circle>`+"\n",
				xOf(pt.p), yOf(pt.ops), colors[im], esc(im), int(pt.p), esc(rate(pt.ops)))
		}
	}
	p.f("</g>\n")
}

// dash draws the baseline dashed, so that it reads as the reference line.
func dash(impl string) string {
	if impl == "baseline" {
		return ` stroke-dasharray="5,3"`
	}
	return ""
}

// niceTicks returns 0 and 3 to 6 round values up to at least top.
func niceTicks(top float64) []float64 {
	if top <= 0 {
		return []float64{0, 1}
	}
	mag := math.Pow(10, math.Floor(math.Log10(top)))
	var step float64
	for _, m := range []float64{0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10} {
		step = m * mag
		if top/step <= 5 {
			break
		}
	}
	var out []float64
	for i := 0; ; i++ {
		v := float64(i) * step
		out = append(out, v)
		if v >= top*1.02 {
			return out
		}
	}
}

// tickLabel formats an axis value briefly: "0", "750", "12.5k", "1.2M".
func tickLabel(v float64) string {
	unit := ""
	switch {
	case v >= 1e6:
		v, unit = v/1e6, "M"
	case v >= 1e3:
		v, unit = v/1e3, "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64) + unit
}

func esc(s string) string { return html.EscapeString(s) }
