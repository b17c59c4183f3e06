package software

import "github.com/cryptoplug/cryptoplug/backend"

// Capabilities reports every algorithm: RSA generates, signs, decrypts and
// imports; ECDSA, EdDSA and ML-DSA generate, sign and import; ML-KEM
// generates, decapsulates and imports. The map is new on every call.
func (s *store) Capabilities() backend.Capabilities {
	c := backend.Capabilities{}
	for _, a := range backend.Algorithms() {
		c[a] = capabilities(a)
	}
	return c
}

func capabilities(a backend.Algorithm) backend.Ops {
	ops := backend.OpGenerate | backend.OpImport
	if a.Signs() {
		ops |= backend.OpSign
	}
	if a.Decrypts() {
		ops |= backend.OpDecrypt
	}
	if a.Decapsulates() {
		ops |= backend.OpDecapsulate
	}
	return ops
}
