package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// processCPUTime returns the CPU time this process has used so far, in
// every thread, user and system; ok is false where it cannot be read.
func processCPUTime() (d time.Duration, ok bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
