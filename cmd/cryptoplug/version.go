package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/cmd/cryptoplug/internal/vectors"
)

// buildInfo is what `cryptoplug version` reports: enough to tell two
// binaries apart in a bug report.
type buildInfo struct {
	Version  string   `json:"version"`            // the module version, or "devel"
	Revision string   `json:"revision,omitempty"` // the VCS commit, "+dirty" when modified
	Time     string   `json:"time,omitempty"`     // the commit's time
	Go       string   `json:"go"`
	Platform string   `json:"platform"`
	Cgo      bool     `json:"cgo"` // PKCS #11 and the TPM simulator need it
	Backends []string `json:"backends"`
	Vectors  string   `json:"vectors"` // the known-answer vectors built in, or "none"
}

func readBuildInfo() buildInfo {
	bi := buildInfo{Version: "devel", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Backends: backend.Schemes(), Vectors: vectors.Description()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		bi.Version = v
	}
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Revision = s.Value
		case "vcs.time":
			bi.Time = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		case "CGO_ENABLED":
			bi.Cgo = s.Value == "1"
		}
	}
	if dirty && bi.Revision != "" {
		bi.Revision += "+dirty"
	}
	return bi
}

// versionString is the one line --version prints.
func versionString() string {
	bi := readBuildInfo()
	var extra []string
	if bi.Revision != "" {
		extra = append(extra, bi.Revision)
	}
	cgo := "cgo"
	if !bi.Cgo {
		cgo = "no cgo"
	}
	extra = append(extra, bi.Go, bi.Platform, cgo)
	return fmt.Sprintf("cryptoplug %s (%s)", bi.Version, strings.Join(extra, ", "))
}

func newVersionCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, build and the backends built in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi := readBuildInfo()
			if a.json() {
				return printJSON(a.out, bi)
			}
			if _, err := fmt.Fprintln(a.out, versionString()); err != nil {
				return err
			}
			return fields(a.out,
				[2]string{"backends", strings.Join(bi.Backends, ", ")},
				[2]string{"vectors", bi.Vectors},
				[2]string{"commit time", bi.Time})
		},
	}
}
