package conformance

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cryptoplug/cryptoplug/backend"
)

// longMessageSizes are the message lengths "sign-long-message" tries, up to
// limit: odd lengths just past the buffer sizes wrappers use (4 KiB, 64 KiB)
// and the limit itself (1 MiB and one byte by default).
func longMessageSizes(limit int) []int {
	var out []int
	for _, n := range []int{minLongMessage, 64<<10 - 1, 64<<10 + 1, limit} {
		if n <= limit && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// checkSignLongMessage signs long messages with a pure scheme (Ed25519,
// Ed448, ML-DSA) through SignMessage and SignMessageContext, verifying each
// with the standard library or circl: a wrapper that copies the message into
// a fixed buffer, or a token with an input limit it does not report, signs
// a truncated message. A message of minLongMessage (4097) bytes must be
// signed; longer ones may be refused with ErrInvalidInput or ErrUnsupported
// (a bound the store states), never signed wrongly. A wrong signature is
// checked against prefixes of the message, to say where it was cut.
func checkSignLongMessage(r *runner, c *cell, a backend.Algorithm) {
	k, ms := r.messageSigner(c, a)
	pub := k.Public()
	var signed, refused []string
	for i, n := range longMessageSizes(r.cfg.longMessage) {
		msg := randomBytes(n)
		sig, err := signMessage(c, ms, msg, crypto.Hash(0), i%2 == 0)
		switch {
		case err == nil:
			if verr := verify(pub, msg, sig, crypto.Hash(0)); verr != nil {
				c.failf(FaultStore, fmt.Sprintf("a signature of all %d bytes", n), whatPrefixSigned(pub, msg, sig),
					"SignMessage of a %d-byte message: %v", n, verr)
				continue
			}
			signed = append(signed, fmt.Sprint(n))
		case n > minLongMessage && (errors.Is(err, backend.ErrInvalidInput) || errors.Is(err, backend.ErrUnsupported)):
			refused = append(refused, fmt.Sprintf("%d (%v)", n, err))
		default:
			c.callFailed(fmt.Sprintf("SignMessage of a %d-byte message", n), err)
		}
	}
	note := fmt.Sprintf("signed and verified messages of %s bytes", strings.Join(signed, ", "))
	if len(refused) > 0 {
		note += "; refused as too long: " + strings.Join(refused, "; ")
	}
	c.Notef("%s", note)
}

// whatPrefixSigned names the prefix of msg that sig is a valid signature
// of, if it is one of the usual buffer sizes.
func whatPrefixSigned(pub crypto.PublicKey, msg, sig []byte) string {
	for _, p := range []int{1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 20, len(msg) - 1} {
		if p > 0 && p < len(msg) && verify(pub, msg[:p], sig, crypto.Hash(0)) == nil {
			return fmt.Sprintf("a signature of the first %d bytes only", p)
		}
	}
	return "a signature that does not verify"
}
