// Command mkarchive writes the archive of test vectors that a cryptoplug
// binary built with the cryptoplug_vectors tag carries (see package
// vectors), and the -overlay file that supplies it to the build:
//
//	go run ./cmd/cryptoplug/internal/vectors/mkarchive -o bin/vectors.tar.gz -overlay bin/vectors-overlay.json
//
// It takes the Wycheproof files from the Go module cache (downloading the
// pinned version on first use, as the conformance suite does) and Go's
// Ed25519 vectors from GOROOT. The archive is deterministic: the same
// inputs give the same bytes.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cryptoplug/cryptoplug/cmd/cryptoplug/internal/vectors"
)

func main() {
	out := flag.String("o", "", "write the archive here (required)")
	overlay := flag.String("overlay", "", "also write a go build -overlay file that supplies the archive")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkarchive -o FILE [-overlay FILE]")
		os.Exit(2)
	}
	if err := run(*out, *overlay); err != nil {
		fmt.Fprintln(os.Stderr, "mkarchive:", err)
		os.Exit(1)
	}
}

func run(out, overlay string) error {
	// Outside any module, as the conformance suite does, so that the
	// project's go.mod and go.sum are never touched.
	wp, err := goOutputIn(os.TempDir(), "mod", "download", "-json", vectors.WycheproofModule())
	if err != nil {
		return err
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(wp, &mod); err != nil || mod.Error != "" || mod.Dir == "" {
		return fmt.Errorf("go mod download %s: %s%v", vectors.WycheproofModule(), mod.Error, err)
	}
	goroot, err := goOutput("env", "GOROOT")
	if err != nil {
		return err
	}
	var files [][2]string // archive name, source path
	for _, p := range vectors.WycheproofPatterns {
		m, err := filepath.Glob(filepath.Join(mod.Dir, "testvectors_v1", p))
		if err != nil || len(m) == 0 {
			return fmt.Errorf("no Wycheproof file matches %s in %s", p, mod.Dir)
		}
		for _, f := range m {
			files = append(files, [2]string{"wycheproof/testvectors_v1/" + filepath.Base(f), f})
		}
	}
	slices.SortFunc(files, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	files = slices.CompactFunc(files, func(a, b [2]string) bool { return a[0] == b[0] })
	files = append(files, [2]string{"goroot/src/crypto/ed25519/testdata/sign.input.gz",
		filepath.Join(strings.TrimSpace(string(goroot)), "src", "crypto", "ed25519", "testdata", "sign.input.gz")})

	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	for _, f := range files {
		b, err := os.ReadFile(f[1])
		if err != nil {
			return err
		}
		h := &tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if overlay == "" {
		return nil
	}
	pkgDir, err := goOutput("list", "-f", "{{.Dir}}", "github.com/cryptoplug/cryptoplug/cmd/cryptoplug/internal/vectors")
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	ov, err := json.MarshalIndent(map[string]map[string]string{
		"Replace": {filepath.Join(strings.TrimSpace(string(pkgDir)), vectors.ArchiveName): abs},
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(overlay, append(ov, '\n'), 0o644)
}

// goOutput runs the go command here and returns its standard output.
func goOutput(args ...string) ([]byte, error) { return goOutputIn("", args...) }

// goOutputIn runs the go command in dir.
func goOutputIn(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if dir != "" {
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=", "GO111MODULE=on")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
