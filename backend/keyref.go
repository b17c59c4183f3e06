package backend

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"unicode/utf8"
)

// KeyID is a key's identifier: arbitrary bytes (a PKCS #11 CKA_ID, a file
// name stem). Its String form is lowercase hex.
type KeyID []byte

// MaxKeyIDLen is the longest [KeyID] accepted.
const MaxKeyIDLen = 64

// MaxLabelLen is the longest label accepted, in bytes.
const MaxLabelLen = 255

// String returns the ID as lowercase hex.
func (id KeyID) String() string { return hex.EncodeToString(id) }

// Equal reports whether id and other hold the same bytes.
func (id KeyID) Equal(other KeyID) bool { return bytes.Equal(id, other) }

// ParseKeyID decodes a hex [KeyID], failing with [ErrInvalidInput].
func ParseKeyID(s string) (KeyID, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) == 0 || len(b) > MaxKeyIDLen {
		return nil, fmt.Errorf("key ID %q: want 1 to %d bytes of hex: %w", s, MaxKeyIDLen, ErrInvalidInput)
	}
	return KeyID(b), nil
}

// KeyRef names a key by ID, by label, or both (then both must match).
type KeyRef struct {
	ID    KeyID
	Label string
}

// ByLabel returns a [KeyRef] for the key labelled label.
func ByLabel(label string) KeyRef { return KeyRef{Label: label} }

// ByID returns a [KeyRef] for the key with this ID.
func ByID(id KeyID) KeyRef { return KeyRef{ID: id} }

// String describes the reference for errors: the label, the hex ID, or
// both as "label (id 0a1b…)".
func (r KeyRef) String() string {
	switch {
	case r.Label != "" && len(r.ID) > 0:
		return r.Label + " (id " + r.ID.String() + ")"
	case r.Label != "":
		return r.Label
	default:
		return r.ID.String()
	}
}

// Validate checks that r names something, failing with [ErrInvalidInput].
func (r KeyRef) Validate() error {
	if r.Label == "" && len(r.ID) == 0 {
		return fmt.Errorf("key reference names neither an ID nor a label: %w", ErrInvalidInput)
	}
	return nil
}

// Matches reports whether a key with this id and label satisfies r.
func (r KeyRef) Matches(id KeyID, label string) bool {
	if len(r.ID) > 0 && !r.ID.Equal(id) {
		return false
	}
	if r.Label != "" && r.Label != label {
		return false
	}
	return r.Label != "" || len(r.ID) > 0
}

// ValidateLabel checks a key label: 1 to [MaxLabelLen] bytes of valid UTF-8
// without control characters. The error wraps [ErrInvalidInput].
func ValidateLabel(label string) error {
	if label == "" || len(label) > MaxLabelLen {
		return fmt.Errorf("key label must be 1 to %d bytes: %w", MaxLabelLen, ErrInvalidInput)
	}
	if !utf8.ValidString(label) {
		return fmt.Errorf("key label is not valid UTF-8: %w", ErrInvalidInput)
	}
	for _, r := range label {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("key label %q contains a control character: %w", label, ErrInvalidInput)
		}
	}
	return nil
}

// Validate checks spec: a known algorithm, a valid label, an ID of at most
// [MaxKeyIDLen] bytes, and a usage the algorithm can have. Errors wrap
// [ErrInvalidInput].
//
// A spec with a [KeySpec.Policy] fails with [ErrUnsupported].
func (s KeySpec) Validate() error {
	if !s.Algorithm.Valid() {
		return fmt.Errorf("unknown algorithm %q: %w", s.Algorithm, ErrInvalidInput)
	}
	if err := ValidateLabel(s.Label); err != nil {
		return err
	}
	if len(s.ID) > MaxKeyIDLen {
		return fmt.Errorf("key ID longer than %d bytes: %w", MaxKeyIDLen, ErrInvalidInput)
	}
	u := s.Usage.Resolve(s.Algorithm)
	var allowed Usage
	switch s.Algorithm.Family() {
	case FamilyRSA:
		allowed = UsageSign | UsageDecrypt
	case FamilyMLKEM:
		allowed = UsageDecapsulate
	default:
		allowed = UsageSign
	}
	if u&^allowed != 0 {
		return fmt.Errorf("usage not possible for %s: %w", s.Algorithm, ErrInvalidInput)
	}
	if s.Policy != nil {
		// A backend that enforces policies validates the spec without
		// its policy, then the policy with KeyPolicy.Validate.
		return fmt.Errorf("key policies (per-key auth values, PCR bindings) are not enforced by this backend: %w", ErrUnsupported)
	}
	return nil
}
