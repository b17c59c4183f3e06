package tpm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	keyfile "github.com/foxboron/go-tpm-keyfiles"
	"github.com/google/go-tpm/tpm2"

	"github.com/cryptoplug/cryptoplug/backend"
)

// keyFileExt ends every key file's name; the stem is the key ID in hex.
const keyFileExt = ".tss2.pem"

// maxKeyFileSize bounds what is read back; real files are about 1 KiB.
const maxKeyFileSize = 64 << 10

func keyFileName(id backend.KeyID) string { return id.String() + keyFileExt }

// idFromFileName returns the key ID a file name holds, or false for files
// that are not key files (temporary files, anything else in dir).
func idFromFileName(name string) (backend.KeyID, bool) {
	stem, ok := strings.CutSuffix(name, keyFileExt)
	if !ok || stem == "" || strings.ToLower(stem) != stem {
		return nil, false
	}
	id, err := backend.ParseKeyID(stem)
	return id, err == nil
}

// encodeKeyFile renders a key in the TSS2 PRIVATE KEY format: a loadable
// key (OID 2.23.133.10.1.3) with empty auth, parent TPM_RH_OWNER (so the
// loader re-derives the SRK from the standard template), and the label as
// the description.
func encodeKeyFile(label string, pub tpm2.TPM2BPublic, priv tpm2.TPM2BPrivate) ([]byte, error) {
	k := keyfile.NewTPMKey(keyfile.OIDLoadableKey, pub, priv,
		keyfile.WithParent(tpm2.TPMRHOwner),
		keyfile.WithUserAuth(nil),
		keyfile.WithDescription(label))
	var b bytes.Buffer
	if err := keyfile.Encode(&b, k); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeKeyFile stores data as dir/name, mode 0600, atomically and without
// replacing an existing file: it writes a temporary file, fsyncs it, links
// it to the final name (which fails if the name exists, unlike rename, so
// two writers cannot both claim one ID) and fsyncs the directory. A crash
// leaves either no key file or a complete one.
func writeKeyFile(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := os.Link(tmpName, filepath.Join(dir, name)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("a key file for this ID exists: %w", backend.ErrKeyExists)
		}
		return fmt.Errorf("write key file: %w", err)
	}
	return syncDir(dir)
}

// removeKeyFile deletes a key file durably.
func removeKeyFile(path string) error {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("key file is gone: %w", backend.ErrKeyNotFound)
		}
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// readKeyFile parses the key file at path into a keyObject. A file that is
// not a TSS2 key this backend can use fails with [backend.ErrCorrupt]
// (damaged, wrong format) or [backend.ErrUnsupported] (a valid TPM key of
// a kind cryptoplug does not offer, such as one needing an auth value).
func readKeyFile(path string, id backend.KeyID) (*keyObject, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, backend.ErrKeyNotFound
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	corrupt := func(why string) error {
		return fmt.Errorf("key file %s: %s: %w", path, why, backend.ErrCorrupt)
	}
	if len(data) > maxKeyFileSize {
		return nil, corrupt("larger than any TPM key file")
	}
	tk, err := keyfile.Decode(data)
	if err != nil {
		return nil, corrupt("not a TSS2 PRIVATE KEY PEM file (" + err.Error() + ")")
	}
	unsupported := func(why string) error {
		return fmt.Errorf("key file %s: %s: %w", path, why, backend.ErrUnsupported)
	}
	switch {
	case !tk.Keytype.Equal(keyfile.OIDLoadableKey):
		return nil, unsupported("not a loadable key")
	case tk.Parent != tpm2.TPMRHOwner:
		return nil, unsupported(fmt.Sprintf("parent %#x is not the owner hierarchy", uint32(tk.Parent)))
	case !tk.EmptyAuth:
		return nil, unsupported("the key needs an auth value")
	case len(tk.Policy) > 0 || len(tk.AuthPolicy) > 0:
		return nil, unsupported("the key needs a policy")
	}
	if err := backend.ValidateLabel(tk.Description); err != nil {
		return nil, corrupt("its description is not a valid label")
	}
	tpub, err := tk.Pubkey.Contents()
	if err != nil {
		return nil, corrupt("unreadable public area")
	}
	pub, err := tpm2.Pub(*tpub)
	if err != nil {
		return nil, corrupt("unreadable public key")
	}
	k := &keyObject{id: id, label: tk.Description, public: pub, pub: tk.Pubkey, priv: tk.Privkey,
		path: path, modTime: st.ModTime(), size: st.Size()}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		switch p.N.BitLen() {
		case 2048:
			k.alg = backend.RSA2048
		case 3072:
			k.alg = backend.RSA3072
		default:
			return nil, unsupported(fmt.Sprintf("RSA-%d is not offered", p.N.BitLen()))
		}
	case *ecdsa.PublicKey:
		switch p.Curve.Params().BitSize {
		case 256:
			k.alg = backend.ECDSAP256
		case 384:
			k.alg = backend.ECDSAP384
		case 521:
			k.alg = backend.ECDSAP521
		default:
			return nil, unsupported("curve " + p.Curve.Params().Name + " is not offered")
		}
	default:
		return nil, unsupported("unknown key type")
	}
	if tpub.ObjectAttributes.SignEncrypt {
		k.usage |= backend.UsageSign
	}
	if tpub.ObjectAttributes.Decrypt && k.alg.Decrypts() {
		k.usage |= backend.UsageDecrypt
	}
	if k.usage == 0 || tpub.ObjectAttributes.Restricted {
		return nil, unsupported("neither an unrestricted signing nor decryption key")
	}
	return k, nil
}
