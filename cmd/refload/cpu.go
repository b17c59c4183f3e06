package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// selfCPU returns the CPU time (user and system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU reads process_cpu_seconds_total from a Prometheus text
// exposition.
func processCPU(metrics string) (time.Duration, error) {
	sc := bufio.NewScanner(strings.NewReader(metrics))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total ")
		if !ok {
			continue
		}
		s, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, fmt.Errorf("process_cpu_seconds_total %q: %w", v, err)
		}
		return time.Duration(s * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("no process_cpu_seconds_total: the server does not export its process metrics")
}
