package backend

import "strings"

// Ops is a set of operations a backend can perform with keys of one
// algorithm.
type Ops uint8

// Operations, combined with |.
const (
	OpGenerate    Ops = 1 << iota // generate a new key inside the store
	OpSign                        // crypto.Signer (and crypto.MessageSigner for pure schemes)
	OpDecrypt                     // crypto.Decrypter
	OpDecapsulate                 // crypto.Decapsulator
	OpImport                      // import an existing private key ([Importer])
)

var opNames = [...]string{"generate", "sign", "decrypt", "decapsulate", "import"}

// Has reports whether every operation in want is in o.
func (o Ops) Has(want Ops) bool { return o&want == want }

// String lists the operations, such as "generate|sign|import", or "none".
func (o Ops) String() string {
	if o == 0 {
		return "none"
	}
	var parts []string
	for i, n := range opNames {
		if o&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "|")
}

// Capabilities maps each algorithm a backend supports to the operations it
// can perform with it. An algorithm that is absent is unsupported. A backend
// reports what the underlying store can really do: a PKCS #11 token's
// mechanism list, a TPM's algorithm capabilities.
//
// Capabilities are declared per algorithm. A store may still refuse one
// parameter combination within a supported operation (a token that does OAEP
// only with SHA-1, say); that call fails with an error wrapping
// [ErrUnsupported].
type Capabilities map[Algorithm]Ops

// Supports reports whether the backend can perform every operation in ops
// with keys of algorithm a.
func (c Capabilities) Supports(a Algorithm, ops Ops) bool {
	got, ok := c[a]
	return ok && got.Has(ops)
}

// Algorithms returns the supported algorithms in the order of [Algorithms].
func (c Capabilities) Algorithms() []Algorithm {
	var out []Algorithm
	for _, a := range Algorithms() {
		if _, ok := c[a]; ok {
			out = append(out, a)
		}
	}
	return out
}
