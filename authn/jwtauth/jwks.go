package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// publicKey is one usable key of an issuer's set.
type publicKey struct {
	alg string // the JWK's "alg", or "" for any algorithm that fits the key type
	key crypto.PublicKey
}

// keyTable is one loaded key set; it is never modified once published.
type keyTable struct {
	byKID    map[string][]publicKey
	ids      map[string]bool // kid + "/" + thumbprint of every key, to detect removals
	loadedAt time.Time
}

// keySource reads an issuer's key set document.
type keySource interface {
	read(ctx context.Context, max int64) ([]byte, error)
	String() string
}

type fileSource string

func (f fileSource) String() string { return string(f) }

func (f fileSource) read(_ context.Context, max int64) ([]byte, error) {
	fh, err := os.Open(string(f))
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return readBounded(fh, max)
}

type urlSource struct {
	url    string
	client *http.Client
}

func (u urlSource) String() string { return u.url }

func (u urlSource) read(ctx context.Context, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	return readBounded(resp.Body, max)
}

func readBounded(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("key set larger than %d bytes", max)
	}
	return b, nil
}

// parseKeySet reads a JWKS document. Keys this package cannot use (another
// type or curve, "use" other than "sig", no "kid", an algorithm outside the
// allow-list, RSA under 2048 or over 8192 bits) are skipped and listed in
// skipped; a document holding private or symmetric key material is refused
// whole, since publishing it is an operator error worth stopping for.
func parseKeySet(doc []byte, now time.Time) (t *keyTable, skipped []string, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	if len(set.Keys) > MaxJWKSKeys {
		return nil, nil, fmt.Errorf("%d keys, more than %d", len(set.Keys), MaxJWKSKeys)
	}
	t = &keyTable{byKID: map[string][]publicKey{}, ids: map[string]bool{}, loadedAt: now}
	for i, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		if !k.IsPublic() {
			return nil, nil, fmt.Errorf("key %d (kid %s) holds private or symmetric key material", i, quote(k.KeyID))
		}
		if why := unusable(&k); why != "" {
			skipped = append(skipped, fmt.Sprintf("key %d (kid %s): %s", i, quote(k.KeyID), why))
			continue
		}
		if len(t.byKID[k.KeyID]) >= maxKeysPerKID {
			return nil, nil, fmt.Errorf("more than %d keys with kid %s", maxKeysPerKID, quote(k.KeyID))
		}
		thumb, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: thumbprint: %v", i, err))
			continue
		}
		t.byKID[k.KeyID] = append(t.byKID[k.KeyID], publicKey{alg: k.Algorithm, key: k.Key})
		t.ids[k.KeyID+"/"+string(thumb)] = true
	}
	if len(t.byKID) == 0 {
		return nil, skipped, errors.New("no usable signing key")
	}
	return t, skipped, nil
}

// unusable says why a public JWK cannot verify tokens here, or "".
func unusable(k *jose.JSONWebKey) string {
	switch {
	case k.KeyID == "":
		return "no kid"
	case k.Use != "" && k.Use != "sig":
		return "use is " + strconv.Quote(k.Use)
	case k.Algorithm != "" && !isSupported(k.Algorithm):
		return "alg " + quote(k.Algorithm) + " not supported"
	}
	switch pk := k.Key.(type) {
	case *ecdsa.PublicKey:
		if pk.Curve != elliptic.P256() && pk.Curve != elliptic.P384() {
			return "curve not P-256 or P-384"
		}
	case *rsa.PublicKey:
		if n := pk.N.BitLen(); n < 2048 || n > 8192 {
			return "RSA modulus of " + strconv.Itoa(n) + " bits"
		}
	case ed25519.PublicKey:
	default:
		return fmt.Sprintf("key type %T", pk)
	}
	return ""
}

func isSupported(alg string) bool {
	for _, a := range supportedAlgorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// fits reports whether k may verify a signature made with alg: the JWK's
// own "alg" (if any) must be alg, and the key's type and curve must be the
// one alg is defined for. This is what stops algorithm confusion.
func (k publicKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pk := k.key.(type) {
	case *ecdsa.PublicKey:
		return alg == ES256 && pk.Curve == elliptic.P256() || alg == ES384 && pk.Curve == elliptic.P384()
	case *rsa.PublicKey:
		return alg == RS256 || alg == PS256
	case ed25519.PublicKey:
		return alg == EdDSA
	}
	return false
}

// issuerKeys holds one issuer's current key set and refreshes it: on an
// unknown key ID (at most once per MinRefreshInterval) and in the
// background once it is RefreshInterval old. Concurrent refreshes share
// one load. Readers never lock: they load the current table atomically.
type issuerKeys struct {
	v    *Verifier
	name string
	src  keySource

	table atomic.Pointer[keyTable]
	// gen counts loads that removed or changed a key: cached verifications
	// made under an older generation no longer count.
	gen atomic.Uint64

	mu          sync.Mutex
	lastAttempt time.Time
	inflight    chan struct{} // closed when the running load ends
	lastErr     error
}

// errRefreshTooSoon means the keys were loaded too recently to try again.
var errRefreshTooSoon = errors.New("key set refreshed too recently")

// lookup returns the keys for kid, refreshing the set if kid is unknown.
func (k *issuerKeys) lookup(ctx context.Context, kid string) ([]publicKey, error) {
	t := k.table.Load()
	if t != nil {
		if keys, ok := t.byKID[kid]; ok {
			if k.v.cfg.Clock().Sub(t.loadedAt) >= k.v.cfg.RefreshInterval {
				k.refreshInBackground()
			}
			return keys, nil
		}
	}
	err := k.refresh(ctx)
	if t2 := k.table.Load(); t2 != nil {
		if keys, ok := t2.byKID[kid]; ok {
			return keys, nil
		}
	}
	if t == nil && k.table.Load() == nil {
		if err == nil || errors.Is(err, errRefreshTooSoon) {
			err = k.loadError()
		}
		return nil, refuse(ErrKeysUnavailable, k.name, "", errString(err))
	}
	return nil, refuse(ErrUnknownKeyID, k.name, "", "")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (k *issuerKeys) loadError() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastErr
}

// refresh loads the key set now, unless the last attempt was less than
// MinRefreshInterval ago; a caller arriving during a load waits for it (or
// for ctx). The load itself is bounded by FetchTimeout and the Verifier's
// lifetime, not by ctx: other callers may be waiting on it.
func (k *issuerKeys) refresh(ctx context.Context) error {
	ch, err := k.startRefresh()
	if err != nil {
		return err
	}
	if ch != nil { // another caller is loading
		select {
		case <-ch:
			return k.loadError()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return k.load()
}

// startRefresh claims the next load. It returns the running load's channel
// to wait on, or nil if the caller must load, or errRefreshTooSoon.
func (k *issuerKeys) startRefresh() (chan struct{}, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.inflight != nil {
		return k.inflight, nil
	}
	now := k.v.cfg.Clock()
	if !k.lastAttempt.IsZero() && now.Sub(k.lastAttempt) < k.v.cfg.MinRefreshInterval {
		return nil, errRefreshTooSoon
	}
	k.lastAttempt = now
	k.inflight = make(chan struct{})
	return nil, nil
}

func (k *issuerKeys) refreshInBackground() {
	ch, err := k.startRefresh()
	if err != nil || ch != nil {
		return
	}
	k.v.wg.Add(1)
	go func() {
		defer k.v.wg.Done()
		_ = k.load()
	}()
}

// load reads and installs the key set; the caller has claimed the load
// through startRefresh. A failed load keeps the previous keys.
func (k *issuerKeys) load() (err error) {
	defer func() {
		k.mu.Lock()
		k.lastErr = err
		close(k.inflight)
		k.inflight = nil
		k.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(k.v.ctx, k.v.cfg.FetchTimeout)
	defer cancel()
	log := k.v.cfg.Logger
	doc, err := k.src.read(ctx, k.v.cfg.MaxJWKSSize)
	if err != nil {
		err = fmt.Errorf("jwtauth: read key set of issuer %q from %s: %w", k.name, k.src, err)
		log.LogAttrs(ctx, slog.LevelWarn, "jwtauth: key set refresh failed", slog.String("issuer", k.name), slog.Any("error", err))
		return err
	}
	t, skipped, err := parseKeySet(doc, k.v.cfg.Clock())
	for _, s := range skipped {
		log.LogAttrs(ctx, slog.LevelWarn, "jwtauth: key skipped", slog.String("issuer", k.name), slog.String("why", s))
	}
	if err != nil {
		err = fmt.Errorf("jwtauth: key set of issuer %q from %s: %w", k.name, k.src, err)
		log.LogAttrs(ctx, slog.LevelWarn, "jwtauth: key set refused", slog.String("issuer", k.name), slog.Any("error", err))
		return err
	}
	// Bump the generation before publishing, so that no verification
	// cached under a removed key is trusted once the new set is visible.
	if old := k.table.Load(); old != nil {
		for id := range old.ids {
			if !t.ids[id] {
				k.gen.Add(1)
				break
			}
		}
	}
	k.table.Store(t)
	log.LogAttrs(ctx, slog.LevelInfo, "jwtauth: key set loaded", slog.String("issuer", k.name), slog.Int("kids", len(t.byKID)))
	return nil
}
