package tpm

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-tpm/tpm2"
)

// ErrSRKMismatch means the TPM's storage root key is not the one the key
// directory recorded when it was first used: the directory belongs to
// another TPM, the TPM was cleared (its keys are then lost), or something
// between this process and the TPM substitutes its own key. Nothing is
// sent to such a TPM: sessions salted to an unverified key would protect
// nothing. Errors wrap it inside a [backend.Error].
var ErrSRKMismatch = errors.New("TPM storage root key does not match the key directory's")

// srkPinFile, in the key directory, records the TPM name (nameAlg ||
// digest of the public area) of the SRK the directory's keys live under.
// It is not a key file, so key listings ignore it.
const srkPinFile = "srk.name"

// checkSRKPin makes the SRK's public area trustworthy, trust on first use:
// the first open of a key directory records the SRK's name there, and
// every later open (and every reconnect, see [device.reconnectIfStale])
// must find the same key. The name binds the whole public area, so an
// attacker on the bus who was not there at the first open cannot make the
// backend salt its sessions or wrap imported keys to a key of theirs. Key
// files cannot serve as the record: a man in the middle could relay their
// loads to the real TPM.
//
// A mismatch fails with [ErrSRKMismatch]; the file is never overwritten.
func checkSRKPin(dir string, name tpm2.TPM2BName) error {
	path := filepath.Join(dir, srkPinFile)
	want := hexName(name)
	for range 2 {
		data, err := os.ReadFile(path)
		if err == nil {
			got := strings.TrimSpace(string(data))
			if got != want {
				return fmt.Errorf("%s records %s, the TPM's is %s (delete the file only if you know why they differ: the keys in this directory will not load either): %w", path, got, want, ErrSRKMismatch)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("read %s: %w", path, err)
		}
		err = createFile(dir, srkPinFile, []byte(want+"\n"))
		if err == nil || !errors.Is(err, fs.ErrExist) {
			return err
		}
		// Another process pinned it first: compare with theirs.
	}
	return fmt.Errorf("%s keeps changing", path)
}

// createFile writes data to dir/name, mode 0600, atomically and only if
// the name is free (fs.ErrExist otherwise), and syncs the directory.
func createFile(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Link(tmpName, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// sameName reports whether two TPM names are equal.
func sameName(a, b tpm2.TPM2BName) bool { return bytes.Equal(a.Buffer, b.Buffer) }

// checkPin checks the device's SRK against dir's pin (see [checkSRKPin]).
func (d *device) checkPin(ctx context.Context, dir string) error {
	if err := d.lock(ctx); err != nil {
		return err
	}
	name := d.srk.Name
	d.unlock()
	return checkSRKPin(dir, name)
}

func hexName(n tpm2.TPM2BName) string { return hex.EncodeToString(n.Buffer) }
