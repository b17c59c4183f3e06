package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine describes where the benchmarks ran: from the configuration lines
// of the results (the testing package writes goos, goarch and cpu; the
// bench package's TestMain adds go, ncpu, os and benchtime), falling back
// to this machine for what the results lack.
type machine struct {
	CPU, CPUSource string
	Cores          string
	Go, Platform   string
	OS             string
	Date           string
	Benchtime      string
}

func describeMachine(d *dataset) machine {
	m := machine{
		CPU:       d.configValue("cpu"),
		CPUSource: "from the results",
		Cores:     d.configValue("ncpu"),
		Go:        d.configValue("go"),
		Platform:  d.configValue("goos") + "/" + d.configValue("goarch"),
		OS:        d.configValue("os"),
		Benchtime: orDefault(d.configValue("benchtime"), "1s"),
	}
	if m.CPU == "" {
		m.CPU, m.CPUSource = cpuModel(), "from /proc/cpuinfo of the machine that made the report"
	}
	if m.Cores == "" {
		m.Cores = strconv.Itoa(runtime.NumCPU()) + " (of the machine that made the report)"
	}
	if m.Go == "" {
		m.Go = runtime.Version() + " (of the report tool)"
	}
	if m.Platform == "/" {
		m.Platform = runtime.GOOS + "/" + runtime.GOARCH
	}
	if m.OS == "" {
		m.OS = runtime.GOOS
	}
	m.Date = d.newest.UTC().Format(time.DateTime + " UTC")
	return m
}

// configValue returns a configuration key's values, joined when they
// differ between results.
func (d *dataset) configValue(k string) string { return strings.Join(d.config[k], "; ") }

// cpuModel reads the first "model name" from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}
