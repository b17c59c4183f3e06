package authn

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Password limits, in bytes.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// Argon2Params are the argon2id cost parameters for passwords and PINs.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultArgon2Params follow the OWASP password storage recommendation for
// argon2id: 19 MiB, 2 passes, 1 lane (about 25 ms on one core).
var DefaultArgon2Params = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Hashes are encoded as PHC strings and decoded with these bounds, so that a
// tampered row cannot make verification arbitrarily expensive.
const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
	maxArgon2Mem  = 1 << 20 // 1 GiB
	maxArgon2Time = 16
)

// argon2Func is argon2.IDKey; tests replace it to observe concurrency.
var argon2Func = argon2.IDKey

// passwordHasher runs argon2id behind a semaphore: each hash holds Memory
// KiB, and an unbounded number of parallel logins would exhaust memory.
type passwordHasher struct {
	params Argon2Params
	sem    chan struct{}
	dummy  string // a hash of a random password, verified for unknown users
}

func newPasswordHasher(p Argon2Params, concurrency int) (*passwordHasher, error) {
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxArgon2Mem || p.Time < 1 || p.Time > maxArgon2Time || p.Threads < 1 {
		return nil, opErr("configure argon2id", "", errWrap(ErrInvalidArgument, "cost parameters out of range"))
	}
	h := &passwordHasher{params: p, sem: make(chan struct{}, max(concurrency, 1))}
	var pw [24]byte
	rand.Read(pw[:])
	d, err := h.hash(context.Background(), Secret{v: string(pw[:])})
	if err != nil {
		return nil, err
	}
	h.dummy = d
	return h, nil
}

func (h *passwordHasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *passwordHasher) release() { <-h.sem }

// hash returns the PHC string of secret under fresh salt.
func (h *passwordHasher) hash(ctx context.Context, secret Secret) (string, error) {
	salt := make([]byte, argon2SaltLen)
	rand.Read(salt)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2Func([]byte(secret.v), salt, h.params.Time, h.params.Memory, h.params.Threads, argon2KeyLen)
	h.release()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.Memory, h.params.Time, h.params.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// verify reports whether secret matches the PHC string encoded. An
// unparsable hash is an error, not a mismatch.
func (h *passwordHasher) verify(ctx context.Context, encoded string, secret Secret) (bool, error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	got := argon2Func([]byte(secret.v), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	h.release()
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// burn spends the time a verification would, so that an unknown user takes
// as long to refuse as a wrong password.
func (h *passwordHasher) burn(ctx context.Context, secret Secret) {
	_, _ = h.verify(ctx, h.dummy, secret)
}

func parsePHC(s string) (Argon2Params, []byte, []byte, error) {
	bad := func(why string) (Argon2Params, []byte, []byte, error) {
		return Argon2Params{}, nil, nil, errWrap(ErrInvalidArgument, "stored argon2id hash: "+why)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("not a PHC argon2id string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return bad("unsupported version")
	}
	var p Argon2Params
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || n != 3 {
		return bad("bad parameters")
	}
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxArgon2Mem || p.Time < 1 || p.Time > maxArgon2Time || p.Threads < 1 {
		return bad("parameters out of range")
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return bad("bad salt or key")
	}
	return p, salt, key, nil
}
