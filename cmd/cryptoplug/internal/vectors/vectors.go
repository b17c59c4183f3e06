// Package vectors carries the known-answer test vectors the conformance
// suite reads — the Wycheproof files and Go's Ed25519 vectors — inside the
// cryptoplug binary, so that `cryptoplug conformance` runs every check, and
// prints the same matrix as `make conformance`, on a machine without a Go
// toolchain or network.
//
// The vectors are not committed (the project fetches Wycheproof with "go
// mod download"): a binary carries them when it is built with the
// cryptoplug_vectors build tag and an overlay that supplies the archive,
// which is what `make cryptoplug` does:
//
//	go run ./cmd/cryptoplug/internal/vectors/mkarchive -o bin/vectors.tar.gz -overlay bin/vectors-overlay.json
//	go build -tags cryptoplug_vectors -overlay bin/vectors-overlay.json -o bin/cryptoplug ./cmd/cryptoplug
//
// A binary built without them reads the vectors from a directory given on
// the command line, or from the Go module cache when a go command is
// present.
package vectors

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/cryptoplug/cryptoplug/conformance"
)

// ArchiveName is the file the embedding build reads, in this package's
// directory (supplied by -overlay; it is never committed).
const ArchiveName = "vectors.tar.gz"

// WycheproofPatterns are the files, under Wycheproof's testvectors_v1, that
// the conformance suite reads. The archive holds exactly these.
var WycheproofPatterns = []string{
	"rsa_pkcs1_*_test.json",       // PKCS #1 v1.5 signatures (sig_gen) and decryption
	"rsa_oaep_*_test.json",        // OAEP decryption, every hash pair
	"mlkem_*_test.json",           // ML-KEM decapsulation
	"mldsa_*_sign_seed_test.json", // ML-DSA signing
	"ecdsa_secp256r1_sha*_p1363_test.json",
	"ecdsa_secp384r1_sha*_p1363_test.json",
	"ecdsa_secp521r1_sha*_p1363_test.json",
}

// WycheproofModule is the module and version ("path@version") of the
// Wycheproof vectors the suite pins: the last word of its fetch command.
func WycheproofModule() string {
	f := strings.Fields(conformance.WycheproofFetchCommand)
	return f[len(f)-1]
}

var wycheproofVersion = func() string {
	_, v, _ := strings.Cut(WycheproofModule(), "@")
	return v
}()

// Archive entry names.
const (
	wycheproofPrefix = "wycheproof/testvectors_v1/"
	ed25519Entry     = "goroot/src/crypto/ed25519/testdata/sign.input.gz"
)

// Limits on what Extract writes: the archive is built in, but a corrupt
// or substituted one must not fill the disk.
const (
	maxFiles     = 200
	maxTotalSize = 256 << 20
)

// Embedded reports whether this binary carries the vectors.
func Embedded() bool { return len(archive) > 0 }

// Description says which vectors the binary carries, for `cryptoplug
// version`.
func Description() string {
	if !Embedded() {
		return "none built in (conformance reads --wycheproof-dir, or the Go module cache)"
	}
	return fmt.Sprintf("built in (Wycheproof %s and Go's Ed25519 vectors, %d kB compressed)", wycheproofVersion, len(archive)>>10)
}

// Dir is where Extract put the vectors.
type Dir struct {
	// Wycheproof holds testvectors_v1, for conformance.WithWycheproofDir.
	Wycheproof string
	// GOROOT holds src/crypto/ed25519/testdata/sign.input.gz, where the
	// suite reads Go's Ed25519 vectors.
	GOROOT string
	root   string
}

// Remove deletes the extracted files.
func (d Dir) Remove() error { return os.RemoveAll(d.root) }

// Extract writes the built-in vectors into a new temporary directory. It
// fails when the binary carries none.
func Extract() (Dir, error) {
	if !Embedded() {
		return Dir{}, errors.New("this binary carries no test vectors")
	}
	root, err := os.MkdirTemp("", "cryptoplug-vectors-")
	if err != nil {
		return Dir{}, err
	}
	d := Dir{Wycheproof: filepath.Join(root, "wycheproof"), GOROOT: filepath.Join(root, "goroot"), root: root}
	if err := extract(bytes.NewReader(archive), root); err != nil {
		_ = os.RemoveAll(root)
		return Dir{}, fmt.Errorf("extract the built-in test vectors: %w", err)
	}
	return d, nil
}

func extract(r io.Reader, root string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n >= maxFiles {
			return fmt.Errorf("more than %d files", maxFiles)
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || !(strings.HasPrefix(name, wycheproofPrefix) && path.Dir(name)+"/" == wycheproofPrefix || name == ed25519Entry) {
			return fmt.Errorf("unexpected entry %q", h.Name)
		}
		if total += h.Size; h.Size < 0 || total > maxTotalSize {
			return fmt.Errorf("more than %d bytes", maxTotalSize)
		}
		dst := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, io.LimitReader(tr, h.Size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}
