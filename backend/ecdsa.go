package backend

import (
	"bytes"
	"crypto/elliptic"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// ECDSARawToDER converts a raw ECDSA signature r||s, as PKCS #11 tokens,
// TPMs and IEEE P1363 produce it, into the ASN.1 DER SEQUENCE { r, s } that
// crypto/ecdsa and X.509 expect. raw must be exactly twice the curve's byte
// size and r and s must lie in [1, N-1]; otherwise the error wraps
// [ErrInvalidInput].
//
// It sits on every HSM and TPM ECDSA signature, so it works on the bytes
// directly and allocates only the result.
func ECDSARawToDER(curve elliptic.Curve, raw []byte) ([]byte, error) {
	params := curve.Params()
	size := (params.BitSize + 7) / 8
	if len(raw) != 2*size {
		return nil, fmt.Errorf("raw ECDSA signature is %d bytes, %s needs %d: %w",
			len(raw), params.Name, 2*size, ErrInvalidInput)
	}
	order := curveOrder(curve, size)
	r, s := raw[:size], raw[size:]
	if !inRange(r, order) || !inRange(s, order) {
		return nil, fmt.Errorf("raw ECDSA signature has r or s out of range: %w", ErrInvalidInput)
	}
	r, s = trimZeros(r), trimZeros(s)
	rLen, sLen := intLen(r), intLen(s)
	body := 2 + rLen + 2 + sLen // INTEGER lengths stay below 128 for every curve up to P-521
	out := make([]byte, 0, 3+body)
	out = append(out, 0x30)
	if body >= 0x80 {
		out = append(out, 0x81)
	}
	out = append(out, byte(body))
	out = appendInt(out, r, rLen)
	return appendInt(out, s, sLen), nil
}

// curveOrder returns N as size big-endian bytes; the standard curves' are
// computed once.
func curveOrder(curve elliptic.Curve, size int) []byte {
	switch curve {
	case elliptic.P256():
		return orderP256
	case elliptic.P384():
		return orderP384
	case elliptic.P521():
		return orderP521
	}
	return curve.Params().N.FillBytes(make([]byte, size))
}

var (
	orderP256 = elliptic.P256().Params().N.FillBytes(make([]byte, 32))
	orderP384 = elliptic.P384().Params().N.FillBytes(make([]byte, 48))
	orderP521 = elliptic.P521().Params().N.FillBytes(make([]byte, 66))
)

// inRange reports whether 0 < v < n for equal-length big-endian v and n.
// Signatures are public, so a variable-time comparison is fine.
func inRange(v, n []byte) bool {
	zero := true
	for _, b := range v {
		if b != 0 {
			zero = false
			break
		}
	}
	return !zero && bytes.Compare(v, n) < 0
}

func trimZeros(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// intLen is the DER INTEGER content length of the positive big-endian b:
// one more byte when the top bit is set, to keep it positive.
func intLen(b []byte) int {
	if b[0]&0x80 != 0 {
		return len(b) + 1
	}
	return len(b)
}

func appendInt(out, b []byte, n int) []byte {
	out = append(out, 0x02, byte(n))
	if n > len(b) {
		out = append(out, 0)
	}
	return append(out, b...)
}

// ECDSADERToRaw converts an ASN.1 DER ECDSA signature into the fixed-size
// r||s form for curve. It refuses non-canonical encodings, trailing data and
// out-of-range values with [ErrInvalidInput].
func ECDSADERToRaw(curve elliptic.Curve, der []byte) ([]byte, error) {
	var r, s big.Int
	var inner cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() {
		return nil, fmt.Errorf("malformed DER ECDSA signature: %w", ErrInvalidInput)
	}
	n := curve.Params().N
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(n) >= 0 || s.Cmp(n) >= 0 {
		return nil, fmt.Errorf("DER ECDSA signature has r or s out of range: %w", ErrInvalidInput)
	}
	size := (curve.Params().BitSize + 7) / 8
	raw := make([]byte, 2*size)
	r.FillBytes(raw[:size])
	s.FillBytes(raw[size:])
	return raw, nil
}
