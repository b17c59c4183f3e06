package conformance

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The Wycheproof vectors are read from the module cache, never committed:
// the suite asks the go command where the pinned version lives, which also
// downloads it on first use.
const (
	wycheproofModule  = "github.com/c2sp/wycheproof" // lowercase: the path the module declares
	wycheproofVersion = "v0.0.0-20260625212325-ee7b4f7e6119"
)

// WycheproofFetchCommand is the command that puts the Wycheproof vectors the
// suite uses into the module cache; run it where the network is reachable.
const WycheproofFetchCommand = "go mod download -json " + wycheproofModule + "@" + wycheproofVersion

var located struct {
	sync.Once
	dir string
	err error
}

// wycheproofDir returns the directory holding testvectors_v1.
func (r *runner) wycheproofDir() (string, error) {
	if d := r.cfg.wycheproofDir; d != "" {
		if _, err := os.Stat(filepath.Join(d, "testvectors_v1")); err != nil {
			return "", fmt.Errorf("WithWycheproofDir(%q): no testvectors_v1 there: %v", d, err)
		}
		return d, nil
	}
	located.Do(func() { located.dir, located.err = locateWycheproof(nil) })
	return located.dir, located.err
}

// locateWycheproof runs "go mod download -json" for the pinned version, with
// extra environment variables env, and returns the module's directory.
func locateWycheproof(env []string) (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(goroot(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, "mod", "download", "-json", wycheproofModule+"@"+wycheproofVersion)
	// Outside any module and workspace, so that the project's go.mod and
	// go.sum are never touched.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=", "GO111MODULE=on")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if info.Error == "" && runErr != nil {
		info.Error = strings.TrimSpace(runErr.Error() + ": " + stderr.String())
	}
	if info.Error == "" && info.Dir == "" {
		info.Error = "go mod download reported no directory"
	}
	if info.Error != "" {
		return "", fmt.Errorf("the Wycheproof test vectors are not in the module cache and could not be downloaded (%s); "+
			"fetch them where the network is reachable with\n\t%s\nor pass WithWycheproofDir with a checkout of github.com/C2SP/wycheproof",
			info.Error, WycheproofFetchCommand)
	}
	return info.Dir, nil
}

// goroot finds GOROOT without the go command in PATH.
func goroot() string {
	if g := os.Getenv("GOROOT"); g != "" {
		return g
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err == nil {
		return strings.TrimSpace(string(out))
	}
	return filepath.Join("/usr", "local", "go")
}

// hexBytes decodes a JSON hex string.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*h = d
	return nil
}

// wpFile is a Wycheproof v1 vector file; wpGroup holds the fields of every
// group type the suite reads.
type wpFile struct {
	Algorithm string    `json:"algorithm"`
	Groups    []wpGroup `json:"testGroups"`
}

type wpGroup struct {
	Type            string          `json:"type"`
	KeySize         int             `json:"keySize"`
	SHA             string          `json:"sha"`
	MGFSHA          string          `json:"mgfSha"`
	PrivateKeyPKCS8 hexBytes        `json:"privateKeyPkcs8"`
	PublicKeyDER    hexBytes        `json:"publicKeyDer"`
	PrivateSeed     hexBytes        `json:"privateSeed"`
	PublicKey       json.RawMessage `json:"publicKey"` // an object or a hex string, by group type
	ParameterSet    string          `json:"parameterSet"`
	Tests           []wpTest        `json:"tests"`
}

type wpTest struct {
	ID      int      `json:"tcId"`
	Comment string   `json:"comment"`
	Flags   []string `json:"flags"`
	Msg     hexBytes `json:"msg"`
	Sig     hexBytes `json:"sig"`
	CT      hexBytes `json:"ct"`
	Label   hexBytes `json:"label"`
	Seed    hexBytes `json:"seed"`
	EK      hexBytes `json:"ek"`
	C       hexBytes `json:"c"`
	K       hexBytes `json:"K"`
	Ctx     *string  `json:"ctx"`
	Result  string   `json:"result"` // "valid", "invalid" or "acceptable"
}

// loadWycheproof reads testvectors_v1/name.
func (r *runner) loadWycheproof(name string) (*wpFile, error) {
	dir, err := r.wycheproofDir()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "testvectors_v1", name))
	if err != nil {
		return nil, err
	}
	var f wpFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &f, nil
}

// wpCase is one selected test with its group.
type wpCase struct {
	group int
	g     *wpGroup
	t     *wpTest
}

// selectCases returns at most limit tests of f (all when limit < 0), spread
// evenly across the file so that the invalid cases near its end are kept.
func selectCases(f *wpFile, limit int) []wpCase {
	var all []wpCase
	for gi := range f.Groups {
		g := &f.Groups[gi]
		for ti := range g.Tests {
			all = append(all, wpCase{gi, g, &g.Tests[ti]})
		}
	}
	if limit < 0 || len(all) <= limit {
		return all
	}
	out := make([]wpCase, 0, limit)
	for i := range limit {
		out = append(out, all[i*len(all)/limit])
	}
	return out
}

// wpHash maps a Wycheproof hash name to a crypto.Hash (0 if unknown).
func wpHash(name string) crypto.Hash {
	switch name {
	case "SHA-1":
		return crypto.SHA1
	case "SHA-224":
		return crypto.SHA224
	case "SHA-256":
		return crypto.SHA256
	case "SHA-384":
		return crypto.SHA384
	case "SHA-512":
		return crypto.SHA512
	case "SHA-512/224":
		return crypto.SHA512_224
	case "SHA-512/256":
		return crypto.SHA512_256
	case "SHA3-256":
		return crypto.SHA3_256
	case "SHA3-384":
		return crypto.SHA3_384
	case "SHA3-512":
		return crypto.SHA3_512
	}
	return 0
}
