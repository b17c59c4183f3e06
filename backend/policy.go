package backend

import (
	"crypto"
	"fmt"
	"slices"
)

// KeyPolicy restricts every use of a key beyond the store's own login,
// enforced by the store's hardware, not by cryptoplug. Set it in
// [KeySpec.Policy] when the key is made; it cannot change afterwards.
// Backends that enforce policies say so in their documentation (the TPM
// backend does: auth values and PCR bindings); the others refuse a spec
// carrying one with [ErrUnsupported].
type KeyPolicy struct {
	// AuthValue, when not empty, is a secret required for every use of
	// the key: a TPM object's authValue. Give it at use with
	// [AuthValueKey.WithAuthValue]. A wrong one fails with [ErrAuth] and
	// counts toward the store's dictionary-attack lockout. 1 to
	// [MaxAuthValue] bytes.
	AuthValue Secret
	// PCRs, when not nil, binds the key to the platform's state: the store
	// refuses the key ([ErrPolicy]) unless the selected platform
	// configuration registers hold the given values. TPM backends only.
	PCRs *PCRPolicy
}

// MaxAuthValue bounds [KeyPolicy.AuthValue]: a TPM takes auth values no
// longer than its objects' name digest (SHA-256).
const MaxAuthValue = 32

// PCRPolicy selects TPM platform configuration registers and the values
// they must hold for a key to be usable.
type PCRPolicy struct {
	// Bank is the hash of the PCR bank; zero means [crypto.SHA256].
	Bank crypto.Hash
	// Indexes are the PCRs, each 0 to [MaxPCRIndex] and listed once.
	Indexes []int
	// Values, when not nil, are the values the PCRs must hold, one per
	// index in the order of Indexes, each the bank's digest size. Nil
	// means the values the PCRs hold when the key is made.
	Values [][]byte
}

// MaxPCRIndex is the highest PCR index a policy may select (PC TPMs have
// 24 PCRs).
const MaxPCRIndex = 23

// Validate checks the policy's form: something to enforce, an auth value
// of at most [MaxAuthValue] bytes, PCR indexes in range and unique, values
// matching them and the bank. Errors wrap [ErrInvalidInput], or
// [ErrUnsupported] for a bank hash other than SHA-1, SHA-256, SHA-384 or
// SHA-512.
func (p *KeyPolicy) Validate() error {
	if p == nil || (len(p.AuthValue) == 0 && p.PCRs == nil) {
		return fmt.Errorf("key policy sets neither an auth value nor PCRs: %w", ErrInvalidInput)
	}
	if len(p.AuthValue) > MaxAuthValue {
		return fmt.Errorf("auth value is %d bytes, at most %d: %w", len(p.AuthValue), MaxAuthValue, ErrInvalidInput)
	}
	if p.PCRs == nil {
		return nil
	}
	bank := p.PCRs.BankHash()
	switch bank {
	case crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return fmt.Errorf("PCR bank %v: %w", bank, ErrUnsupported)
	}
	idx := p.PCRs.Indexes
	if len(idx) == 0 {
		return fmt.Errorf("PCR policy selects no PCR: %w", ErrInvalidInput)
	}
	seen := map[int]bool{}
	for _, i := range idx {
		if i < 0 || i > MaxPCRIndex {
			return fmt.Errorf("PCR index %d is out of range 0 to %d: %w", i, MaxPCRIndex, ErrInvalidInput)
		}
		if seen[i] {
			return fmt.Errorf("PCR %d is selected twice: %w", i, ErrInvalidInput)
		}
		seen[i] = true
	}
	if p.PCRs.Values != nil {
		if len(p.PCRs.Values) != len(idx) {
			return fmt.Errorf("%d PCR values for %d PCRs: %w", len(p.PCRs.Values), len(idx), ErrInvalidInput)
		}
		for n, v := range p.PCRs.Values {
			if len(v) != bank.Size() {
				return fmt.Errorf("value for PCR %d is %d bytes, the %v bank's are %d: %w", idx[n], len(v), bank, bank.Size(), ErrInvalidInput)
			}
		}
	}
	return nil
}

// BankHash returns Bank, or crypto.SHA256 when it is zero.
func (p *PCRPolicy) BankHash() crypto.Hash {
	if p.Bank == 0 {
		return crypto.SHA256
	}
	return p.Bank
}

// Clone returns a deep copy, so that a caller's later changes to p do not
// reach a store that keeps it.
func (p *KeyPolicy) Clone() *KeyPolicy {
	if p == nil {
		return nil
	}
	c := &KeyPolicy{AuthValue: slices.Clone(p.AuthValue)}
	if p.PCRs != nil {
		c.PCRs = &PCRPolicy{Bank: p.PCRs.Bank, Indexes: slices.Clone(p.PCRs.Indexes)}
		if p.PCRs.Values != nil {
			c.PCRs.Values = make([][]byte, len(p.PCRs.Values))
			for i, v := range p.PCRs.Values {
				c.PCRs.Values[i] = slices.Clone(v)
			}
		}
	}
	return c
}

// AuthValueKey is implemented by keys of stores that enforce
// [KeyPolicy.AuthValue]. Find it by type assertion on a [Key].
type AuthValueKey interface {
	Key
	// WithAuthValue returns the same key carrying auth for the operations
	// of every Signer, Decrypter and Attester it hands out; k itself is
	// unchanged. auth is not checked here: a wrong one fails at use with
	// [ErrAuth], and the store counts the failure toward its
	// dictionary-attack lockout. A key whose policy has no auth value
	// ignores it.
	WithAuthValue(auth Secret) Key
}
