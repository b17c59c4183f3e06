package remote

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/wire"
)

// Scheme is the URI scheme this package registers.
const Scheme = "remote"

func init() { backend.Register(Scheme, open) }

// Backend is a backend.Backend over a reference server. It is safe for
// concurrent use.
type Backend struct {
	c       *client.Client
	info    backend.Info
	caps    backend.Capabilities
	timeout time.Duration
	closed  atomic.Bool
	// keyStore holds the TLS client certificate's key (client-key-by=),
	// open for the backend's lifetime; nil without a client certificate.
	keyStore backend.Backend
}

var knownAttrs = map[string]bool{"api-key-source": true, "session-source": true, "user-secret-source": true,
	"ca-file": true, "timeout": true, "client-cert": true, "client-key": true, "client-key-by": true}

func open(ctx context.Context, uri string) (backend.Backend, error) {
	u, err := backend.ParseURI(uri)
	if err != nil {
		return nil, err
	}
	b := &Backend{timeout: backend.DefaultTimeout}
	fail := func(err error) (backend.Backend, error) {
		if b.keyStore != nil {
			err = errors.Join(err, b.keyStore.Close())
		}
		return nil, backend.Errorf("open", Scheme, "", err)
	}
	if len(u.Path) != 1 || u.Path[0].HasValue {
		return fail(fmt.Errorf("%w: the URI must be remote:https://host:port?…", backend.ErrInvalidInput))
	}
	base := u.Path[0].Name
	var (
		cred  client.Credential
		ncred int
		opts  []client.Option
	)
	for _, a := range u.Query {
		if !knownAttrs[a.Name] {
			return fail(fmt.Errorf("%w: unknown attribute %q", backend.ErrInvalidInput, a.Name))
		}
		switch a.Name {
		case "api-key-source", "session-source", "user-secret-source":
			v, err := readCredential(ctx, a.Value)
			if err != nil {
				return fail(fmt.Errorf("%s: %w", a.Name, err))
			}
			ncred++
			switch a.Name {
			case "api-key-source":
				cred = client.APIKey(v)
			case "session-source":
				cred = client.Bearer(v)
			default:
				cred = client.UserSecret(v)
			}
		case "ca-file":
			opts = append(opts, client.WithCAFile(a.Value))
		case "timeout":
			d, err := time.ParseDuration(a.Value)
			if err != nil || d <= 0 {
				return fail(fmt.Errorf("%w: timeout must be a positive duration", backend.ErrInvalidInput))
			}
			b.timeout = d
		}
	}
	certOpt, err := b.clientCertificate(ctx, u)
	if err != nil {
		return fail(err)
	}
	switch {
	case ncred > 1:
		return fail(fmt.Errorf("%w: give at most one of api-key-source, session-source and user-secret-source", backend.ErrInvalidInput))
	case ncred == 0 && certOpt == nil:
		return fail(fmt.Errorf("%w: give one of api-key-source, session-source and user-secret-source, or a client certificate (client-cert, client-key, client-key-by)", backend.ErrInvalidInput))
	case ncred == 0:
		cred = client.CertificateSession()
	}
	if certOpt != nil {
		opts = append(opts, certOpt)
	}
	c, err := client.New(base, append(opts, client.WithCredential(cred))...)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", backend.ErrInvalidInput, err))
	}
	b.c = c
	capsResp, err := c.Capabilities(ctx)
	if err != nil {
		return fail(err)
	}
	b.caps = backend.Capabilities{}
	for name, ops := range capsResp.Algorithms {
		a, err := backend.ParseAlgorithm(name)
		if err != nil {
			continue // an algorithm this client does not know
		}
		if o := wire.ParseOps(ops); o != 0 {
			b.caps[a] = o
		}
	}
	sb := capsResp.Backend
	b.info = backend.Info{Name: Scheme, Kind: "remote", URI: u.Redacted(), Persistent: sb.Persistent,
		Manufacturer: sb.Manufacturer, Model: strings.TrimSpace(sb.Name + " " + sb.Kind + " " + sb.Model), Firmware: sb.Firmware}
	return b, nil
}

// readCredential resolves a credential source (backend.ReadSecret: file:,
// env: or sealed:) to a non-empty credential.
func readCredential(ctx context.Context, src string) (string, error) {
	v, err := backend.ReadSecret(ctx, src)
	if err != nil {
		return "", err
	}
	defer v.Wipe()
	if len(v) == 0 {
		return "", fmt.Errorf("the credential is empty: %w", backend.ErrInvalidInput)
	}
	return string(v), nil
}

// Info describes the backend: Name "remote", Kind "remote", Persistent as
// the server's backend, Model naming the server's backend.
func (b *Backend) Info() backend.Info { return b.info }

// Capabilities returns the server's capabilities as read at Open.
func (b *Backend) Capabilities() backend.Capabilities {
	out := make(backend.Capabilities, len(b.caps))
	for a, o := range b.caps {
		out[a] = o
	}
	return out
}

func (b *Backend) check(ctx context.Context, op, key string) error {
	if err := b.usable(); err != nil {
		return backend.Errorf(op, Scheme, key, err)
	}
	return backend.ContextErr(ctx, op, Scheme, key)
}

// usable fails with ErrClosed after Close.
func (b *Backend) usable() error {
	if b.closed.Load() {
		return backend.ErrClosed
	}
	return nil
}

// GenerateKey asks the server to generate spec (POST /v1/key).
func (b *Backend) GenerateKey(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
	const op = "generate key"
	if err := b.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, backend.Errorf(op, Scheme, spec.Label, err)
	}
	req := wire.KeySpec{Label: spec.Label, Algorithm: spec.Algorithm.String(), Usage: wire.UsageNames(spec.Usage)}
	if len(spec.ID) > 0 {
		req.ID = spec.ID.String()
	}
	k, err := b.c.CreateKey(ctx, req)
	if err != nil {
		return nil, backend.Errorf(op, Scheme, spec.Label, err)
	}
	return b.newKey(k, op)
}

// ImportKey stores priv on the server under spec (POST /v1/key/import). priv
// is sent in the encoding wire.MarshalPrivateKey documents, over the
// client's TLS connection; the encoded copy is cleared afterwards. A server
// whose backend cannot import answers backend.ErrUnsupported.
func (b *Backend) ImportKey(ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
	const op = "import key"
	if err := b.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, backend.Errorf(op, Scheme, spec.Label, err)
	}
	enc, err := wire.MarshalPrivateKey(spec.Algorithm, priv)
	if err != nil {
		return nil, backend.Errorf(op, Scheme, spec.Label, err)
	}
	defer clear(enc)
	req := wire.ImportKeyRequest{KeySpec: wire.KeySpec{Label: spec.Label, Algorithm: spec.Algorithm.String(), Usage: wire.UsageNames(spec.Usage)}, PrivateKey: enc}
	if len(spec.ID) > 0 {
		req.ID = spec.ID.String()
	}
	k, err := b.c.ImportKey(ctx, req)
	if err != nil {
		return nil, backend.Errorf(op, Scheme, spec.Label, err)
	}
	return b.newKey(k, op)
}

// Key finds a key by label (GET /v1/key/{label}) or ID (GET /v1/key?id=).
func (b *Backend) Key(ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
	const op = "find key"
	if err := b.check(ctx, op, ref.String()); err != nil {
		return nil, err
	}
	if err := ref.Validate(); err != nil {
		return nil, backend.Errorf(op, Scheme, ref.String(), err)
	}
	var found wire.Key
	if ref.Label != "" {
		k, err := b.c.GetKey(ctx, ref.Label)
		if err != nil {
			return nil, backend.Errorf(op, Scheme, ref.String(), err)
		}
		found = k
	} else {
		l, err := b.c.KeyByID(ctx, ref.ID.String())
		if err != nil {
			return nil, backend.Errorf(op, Scheme, ref.String(), err)
		}
		if len(l.Keys) == 0 {
			return nil, backend.Errorf(op, Scheme, ref.String(), backend.ErrKeyNotFound)
		}
		found = l.Keys[0]
	}
	k, err := b.newKey(found, op)
	if err != nil {
		return nil, err
	}
	if !ref.Matches(k.ID(), k.Label()) {
		return nil, backend.Errorf(op, Scheme, ref.String(), backend.ErrKeyNotFound)
	}
	return k, nil
}

// Keys lists the server's keys (GET /v1/key). Server warnings about
// unreadable entries come back as an error wrapping backend.ErrCorrupt
// alongside the usable keys.
func (b *Backend) Keys(ctx context.Context) ([]backend.Key, error) {
	const op = "list keys"
	if err := b.check(ctx, op, ""); err != nil {
		return nil, err
	}
	l, err := b.c.ListKeys(ctx)
	if err != nil {
		return nil, backend.Errorf(op, Scheme, "", err)
	}
	keys := make([]backend.Key, 0, len(l.Keys))
	var errs []error
	for _, kj := range l.Keys {
		k, err := b.newKey(kj, op)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, k)
	}
	for _, w := range l.Warnings {
		errs = append(errs, fmt.Errorf("%w: server: %s", backend.ErrCorrupt, w))
	}
	if len(errs) > 0 {
		return keys, backend.Errorf(op, Scheme, "", errors.Join(errs...))
	}
	return keys, nil
}

// DeleteKey destroys the key ref names (DELETE /v1/key/{label}).
func (b *Backend) DeleteKey(ctx context.Context, ref backend.KeyRef) error {
	const op = "delete key"
	k, err := b.Key(ctx, ref)
	if err != nil {
		var be *backend.Error
		if errors.As(err, &be) && be.Op == "find key" {
			be.Op = op
		}
		return err
	}
	err = b.c.DeleteKey(ctx, k.Label())
	if _, _, err := b.settle(ctx, err); err != nil {
		return backend.Errorf(op, Scheme, ref.String(), err)
	}
	return nil
}

// Close marks the backend closed, drops idle connections and closes the
// backend holding the client certificate's key; the server's keys are
// untouched. Later calls return nil.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.c.HTTPClient().CloseIdleConnections()
	if b.keyStore != nil {
		return b.keyStore.Close()
	}
	return nil
}

// newKey builds a key handle from the server's description.
func (b *Backend) newKey(k wire.Key, op string) (*Key, error) {
	alg, err := backend.ParseAlgorithm(k.Algorithm)
	if err != nil {
		return nil, backend.Errorf(op, Scheme, k.Label, fmt.Errorf("%w: server sent algorithm %q", backend.ErrUnsupported, k.Algorithm))
	}
	id, err := backend.ParseKeyID(k.ID)
	if err != nil {
		return nil, backend.Errorf(op, Scheme, k.Label, fmt.Errorf("server sent a malformed key ID: %w", err))
	}
	pub, err := wire.ParsePublicKey(k.PublicKey)
	if err != nil {
		return nil, backend.Errorf(op, Scheme, k.Label, fmt.Errorf("server sent a malformed public key: %w", err))
	}
	usage, err := wire.ParseUsage(k.Usage)
	if err != nil {
		return nil, backend.Errorf(op, Scheme, k.Label, err)
	}
	return &Key{b: b, label: k.Label, id: id, alg: alg, pub: pub, usage: usage}, nil
}
