//go:build !linux

package bench

import "time"

// processCPUTime reports ok false: process CPU time is read only on Linux.
func processCPUTime() (time.Duration, bool) { return 0, false }
