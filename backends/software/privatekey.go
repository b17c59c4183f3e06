package software

import "crypto"

// samePublic reports whether the caller's private key claims the public key
// the store derived. It catches keys whose public half disagrees with their
// secret (an Ed25519 key with a foreign public half, an ECDSA key with
// mismatched X, Y), which would otherwise be stored under a public key the
// caller never sees. Keys without a Public method (ML-KEM) are fully
// determined by their seed.
func samePublic(priv crypto.PrivateKey, pub crypto.PublicKey) bool {
	p, ok := priv.(interface{ Public() crypto.PublicKey })
	if !ok {
		return true
	}
	theirs, ok := p.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && theirs.Equal(pub)
}
