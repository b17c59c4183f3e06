package refserver

import (
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/safetext"
)

// checkLabel accepts a key label the server may store, address and log: the
// backend's rule (1 to 255 bytes, no C0 controls), text a person reads as
// what it is (no C1 controls, no bidirectional or invisible characters:
// package safetext), and nothing shaped like a credential, which would be
// refused in a URL and redacted in every log. Errors wrap
// backend.ErrInvalidInput and never quote the label.
func checkLabel(label string) error {
	if authn.ContainsToken(label) {
		return invalid("a key label must not look like a credential")
	}
	if p := safetext.Problem(label); p != "" {
		return invalid("a key label must not hold %s", p)
	}
	if err := backend.ValidateLabel(label); err != nil {
		return invalid("a key label must be 1 to %d bytes", backend.MaxLabelLen)
	}
	return nil
}

// seconds converts a caller's count of whole seconds to a duration, after
// checking that it lies in [lo, hi]: the range check comes first, so no
// value can overflow the multiplication. The error names the field and
// the range, never the value.
func seconds(field string, v, lo, hi int64) (time.Duration, error) {
	if v < lo || v > hi {
		return 0, invalid("%s must be %d to %d", field, lo, hi)
	}
	return time.Duration(v) * time.Second, nil
}

// maxCount refuses a list with more than max entries.
func maxCount(field string, n, max int) error {
	if n > max {
		return invalid("%s has more than %d entries", field, max)
	}
	return nil
}
