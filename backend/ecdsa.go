package backend

import (
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
func ECDSARawToDER(curve elliptic.Curve, raw []byte) ([]byte, error) {
	size := (curve.Params().BitSize + 7) / 8
	if len(raw) != 2*size {
		return nil, fmt.Errorf("raw ECDSA signature is %d bytes, %s needs %d: %w",
			len(raw), curve.Params().Name, 2*size, ErrInvalidInput)
	}
	r := new(big.Int).SetBytes(raw[:size])
	s := new(big.Int).SetBytes(raw[size:])
	n := curve.Params().N
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(n) >= 0 || s.Cmp(n) >= 0 {
		return nil, fmt.Errorf("raw ECDSA signature has r or s out of range: %w", ErrInvalidInput)
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.Bytes()
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
