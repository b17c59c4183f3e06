package main

import (
	"fmt"
	"math"
)

// duration formats nanoseconds with three significant digits: "850 ns",
// "28.5 µs", "1.23 ms".
func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return sig3(ns/1e9) + " s"
	case ns >= 1e6:
		return sig3(ns/1e6) + " ms"
	case ns >= 1e3:
		return sig3(ns/1e3) + " µs"
	}
	return sig3(ns) + " ns"
}

// rate formats operations per second with three significant digits:
// "412", "35.1 k", "1.20 M".
func rate(opsPerSec float64) string {
	switch {
	case opsPerSec >= 1e6:
		return sig3(opsPerSec/1e6) + " M"
	case opsPerSec >= 1e3:
		return sig3(opsPerSec/1e3) + " k"
	}
	return sig3(opsPerSec)
}

// sig3 formats x with three significant digits (but no exponent).
func sig3(x float64) string {
	switch a := math.Abs(x); {
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

// num formats a count: an integer without decimals, else one decimal.
func num(x float64) string {
	if x == math.Trunc(x) {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

// ratio formats a ratio as "1.02×".
func ratio(x float64) string { return fmt.Sprintf("%.2f×", x) }

// spread formats a relative spread as " ±3%", or "" when there is none.
func spread(s summary) string {
	if s.N < 2 {
		return ""
	}
	return fmt.Sprintf(" ±%.0f%%", 100*s.Spread())
}
