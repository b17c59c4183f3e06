package tpm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	keyfile "github.com/foxboron/go-tpm-keyfiles"
	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/cryptoplug/cryptoplug/backend"
)

// keyFileExt ends the name of every key file this backend writes; the stem
// is the key ID in hex. Files of other names ending in pemExt are keys too
// when they hold a TSS2 PRIVATE KEY (see readKeyFile).
const (
	keyFileExt = ".tss2.pem"
	pemExt     = ".pem"
)

// labelPrefix starts the line, before the PEM block, that holds a key
// file's label. It sits where RFC 7468 allows explanatory text, which
// every PEM reader skips: tpm2-openssl's TSS2 parser refuses any optional
// field it does not know, the description that held the label before
// among them.
const labelPrefix = "Label: "

// maxKeyFileSize bounds what is read back; real files are about 1 KiB.
const maxKeyFileSize = 64 << 10

func keyFileName(id backend.KeyID) string { return id.String() + keyFileExt }

// isKeyFileName reports whether a directory entry may be a key file:
// NAME.pem, not hidden (temporary files start with a dot).
func isKeyFileName(name string) bool {
	return strings.HasSuffix(name, pemExt) && !strings.HasPrefix(name, ".") && len(name) > len(pemExt)
}

// fileStem is a key file's name without .tss2.pem or .pem.
func fileStem(name string) string {
	if s, ok := strings.CutSuffix(name, keyFileExt); ok {
		return s
	}
	return strings.TrimSuffix(name, pemExt)
}

// idFromFileName returns the key ID a file name holds: the stem, when it
// is lowercase hex, as in the names this backend gives its files.
func idFromFileName(name string) (backend.KeyID, bool) {
	stem := fileStem(name)
	if stem == "" || strings.ToLower(stem) != stem {
		return nil, false
	}
	id, err := backend.ParseKeyID(stem)
	return id, err == nil
}

// encodeKeyFile renders a key as a label line followed by a TSS2 PRIVATE
// KEY PEM block: a loadable key (OID 2.23.133.10.1.3) with empty auth and
// parent TPM_RH_OWNER, so the loader re-derives the SRK from the standard
// template, and no optional field tpm2-openssl would refuse. opts, applied
// last, record a key policy (see [keyPolicy.fileOptions]).
func encodeKeyFile(label string, pub tpm2.TPM2BPublic, priv tpm2.TPM2BPrivate, opts ...keyfile.TPMKeyOption) ([]byte, error) {
	if err := backend.ValidateLabel(label); err != nil {
		return nil, err
	}
	k := keyfile.NewTPMKey(keyfile.OIDLoadableKey, pub, priv,
		append([]keyfile.TPMKeyOption{
			keyfile.WithParent(tpm2.TPMRHOwner),
			keyfile.WithUserAuth(nil)}, opts...)...)
	der, err := marshalKeyFile(k)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(labelPrefix + label + "\n")
	if err := pem.Encode(&b, &pem.Block{Type: "TSS2 PRIVATE KEY", Bytes: der}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// marshalKeyFile is go-tpm-keyfiles' DER encoding of k, with emptyAuth
// written out as an explicit FALSE when the key has an auth value.
// go-tpm-keyfiles leaves the optional field out then, which the TSS2 key
// format reads as false but tpm2-openssl 1.1.1 reads as true: it would use
// the key with an empty password instead of asking for one.
func marshalKeyFile(k *keyfile.TPMKey) ([]byte, error) {
	der := keyfile.Marshal(k)
	if k.EmptyAuth {
		return der, nil
	}
	in := cryptobyte.String(der)
	var body, oid cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !in.Empty() || !body.ReadASN1Element(&oid, cbasn1.OBJECT_IDENTIFIER) {
		return nil, errors.New("encode key file: unexpected TSS2 key encoding")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(oid)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1Boolean(false)
		})
		b.AddBytes(body)
	})
	return b.Bytes()
}

// labelLine returns the label from the lines before the PEM block, if one
// of them starts with labelPrefix. ok is false when there is none; err is
// set when there is one but it is not a valid label.
func labelLine(data []byte) (label string, ok bool, err error) {
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte("\n"))
		data = rest
		line = bytes.TrimSuffix(line, []byte("\r"))
		if bytes.HasPrefix(line, []byte("-----BEGIN ")) {
			break
		}
		if v, found := bytes.CutPrefix(line, []byte(labelPrefix)); found {
			label = string(v)
			if err := backend.ValidateLabel(label); err != nil {
				return "", true, err
			}
			return label, true, nil
		}
	}
	return "", false, nil
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

// errNotKeyFile marks a NAME.pem file that holds no TSS2 key (a
// certificate next to the keys, say); such files are not listed.
var errNotKeyFile = errors.New("not a TSS2 key file")

// readKeyFile parses the key file at path into a keyObject.
//
// The ID is the file name's stem when that is lowercase hex (the files this
// backend writes), else the key's TPM object Name (what tpm2_readpublic
// prints as name). The label is, in this order: the label line before the
// PEM block (which this backend writes, and a user can add), the TSS2
// description (which older versions of this backend wrote, and some other
// tools do) when it is a valid label, or the file name's stem. So a key
// made by `openssl genpkey -provider tpm2 -out web.pem` or by tpm2-tools is
// found by the label "web".
//
// A file named *.tss2.pem that is not a TSS2 key, or a TSS2 key file that
// cannot be parsed, fails with [backend.ErrCorrupt]; another *.pem file
// that holds no TSS2 key with errNotKeyFile. A valid TPM key of a kind
// cryptoplug does not offer (one needing a policy other than the PCR and
// auth-value ones it writes, under another parent, RSA-4096) fails with
// [backend.ErrUnsupported]; a key with an auth value or a PCR policy
// records it (see [parseFilePolicy]).
func readKeyFile(path string) (*keyObject, error) {
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
	name := filepath.Base(path)
	ours := strings.HasSuffix(name, keyFileExt)
	corrupt := func(why string) error {
		return fmt.Errorf("key file %s: %s: %w", path, why, backend.ErrCorrupt)
	}
	if st.Size() > maxKeyFileSize {
		if !ours {
			return nil, errNotKeyFile
		}
		return nil, corrupt("larger than any TPM key file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileSize {
		return nil, corrupt("larger than any TPM key file")
	}
	k, err := parseKeyFile(name, data)
	switch {
	case errors.Is(err, errNotKeyFile) && ours:
		return nil, corrupt(err.Error())
	case errors.Is(err, backend.ErrUnsupported) || errors.Is(err, errNotKeyFile):
		return nil, fmt.Errorf("key file %s: %w", path, err)
	case err != nil:
		return nil, corrupt(err.Error())
	}
	k.path, k.modTime, k.size = path, st.ModTime(), st.Size()
	return k, nil
}

// parseKeyFile parses the contents of the key file called name (see
// readKeyFile). Errors are errNotKeyFile, wrap backend.ErrUnsupported, or
// say why the file is damaged.
func parseKeyFile(name string, data []byte) (*keyObject, error) {
	tk, err := keyfile.Decode(data)
	if err != nil {
		if block, _ := pem.Decode(data); block == nil || block.Type != "TSS2 PRIVATE KEY" {
			return nil, errNotKeyFile
		}
		return nil, fmt.Errorf("not a valid TSS2 PRIVATE KEY (%v)", err)
	}
	unsupported := func(why string) error { return fmt.Errorf("%s: %w", why, backend.ErrUnsupported) }
	switch {
	case !tk.Keytype.Equal(keyfile.OIDLoadableKey):
		return nil, unsupported("not a loadable key")
	case tk.Parent != tpm2.TPMRHOwner:
		return nil, unsupported(fmt.Sprintf("parent %#x is not the owner hierarchy", uint32(tk.Parent)))
	case len(tk.AuthPolicy) > 0:
		return nil, unsupported("the key needs a signed policy")
	}
	policy, err := parseFilePolicy(tk.Policy, tk.EmptyAuth)
	if err != nil {
		return nil, err
	}
	tpub, err := tk.Pubkey.Contents()
	if err != nil {
		return nil, errors.New("unreadable public area")
	}
	pub, err := tpm2.Pub(*tpub)
	if err != nil {
		return nil, errors.New("unreadable public key")
	}
	k := &keyObject{public: pub, pub: tk.Pubkey, priv: tk.Privkey, policy: policy}
	label, hasLine, err := labelLine(data)
	switch {
	case err != nil:
		return nil, fmt.Errorf("its %q line does not hold a valid label: %v", strings.TrimSpace(labelPrefix), err)
	case hasLine:
		k.label = label
	case tk.Description != "" && backend.ValidateLabel(tk.Description) == nil:
		k.label = tk.Description
		k.legacy = true
	default:
		k.label = fileStem(name)
	}
	if id, ok := idFromFileName(name); ok {
		k.id = id
	} else {
		tname, err := tpm2.ObjectName(tpub)
		if err != nil {
			return nil, fmt.Errorf("cannot compute the key's TPM name: %v", err)
		}
		k.id = backend.KeyID(tname.Buffer)
	}
	if err := backend.ValidateLabel(k.label); err != nil {
		return nil, fmt.Errorf("no valid label: the file name %q is not one, and the file has no %q line", name, strings.TrimSpace(labelPrefix))
	}
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

// migrateKeyFile rewrites a key file this backend wrote before labels
// moved out of the TSS2 description (see labelPrefix), so that
// tpm2-openssl can load it too: atomically, the same key under the same
// label. It reports the new file's state; on any error the old file
// stays as it was, and stays readable.
func migrateKeyFile(k *keyObject) (modTime time.Time, size int64, err error) {
	data, err := encodeKeyFile(k.label, k.pub, k.priv, k.policy.fileOptions()...)
	if err != nil {
		return time.Time{}, 0, err
	}
	dir := filepath.Dir(k.path)
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return time.Time{}, 0, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return time.Time{}, 0, err
	}
	if err := os.Rename(tmp.Name(), k.path); err != nil {
		return time.Time{}, 0, err
	}
	if err := syncDir(dir); err != nil {
		return time.Time{}, 0, err
	}
	st, err := os.Stat(k.path)
	if err != nil {
		return time.Time{}, 0, err
	}
	return st.ModTime(), st.Size(), nil
}
