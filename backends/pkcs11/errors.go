//go:build cgo

package pkcs11

import (
	"errors"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// Open errors. Each names the module (and token) but never the PIN; test
// for them with [errors.Is]. A refused PIN wraps [backend.ErrAuth].
var (
	// ErrModuleLoad means the PKCS #11 library named by module-path could
	// not be loaded or initialised. It also wraps backend.ErrInvalidInput.
	ErrModuleLoad = errors.New("PKCS #11 module cannot be loaded")
	// ErrTokenNotFound means no token (or more than one) matches the URI's
	// token, serial, slot-id, manufacturer and model. It also wraps
	// backend.ErrInvalidInput.
	ErrTokenNotFound = errors.New("PKCS #11 token not found")
)

// ckr returns the PKCS #11 return code in err, or false.
func ckr(err error) (uint, bool) {
	// The nil and unwrapped cases come first: they are the sign path's,
	// and errors.As would move its target to the heap on every call.
	if err == nil {
		return 0, false
	}
	if e, ok := err.(pkcs11.Error); ok {
		return uint(e), true
	}
	var e pkcs11.Error
	if errors.As(err, &e) {
		return uint(e), true
	}
	return 0, false
}

// isAuthError reports a PIN the token refused.
func isAuthError(err error) bool {
	c, ok := ckr(err)
	if !ok {
		return false
	}
	switch c {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE,
		pkcs11.CKR_PIN_EXPIRED, pkcs11.CKR_PIN_LOCKED, pkcs11.CKR_USER_PIN_NOT_INITIALIZED:
		return true
	}
	return false
}

// outageKind is what a failed call's return code says about the token,
// beyond the call itself.
type outageKind uint8

const (
	// notOutage: the failure is the call's own.
	notOutage outageKind = iota
	// sessionLost: the token dropped the session or logged the user out
	// (another user closed every session, the device lost its memory):
	// reopen, log in again, retry once.
	sessionLost
	// tokenLost: the token was removed or its slot went away: find it
	// again, in the background, until it is back.
	tokenLost
	// moduleLost: the module failed — its device, or its connection to a
	// device or server (p11-kit's client answers CKR_DEVICE_ERROR from the
	// moment its server went away until it is initialised again) — or
	// was finalised under us: reset the module, then find the token.
	moduleLost
)

// outageOf classifies err by inclusion: only the return codes listed here
// are outages; an error without a PKCS #11 code, or with any other code,
// is the call's own failure and never makes the backend reconnect.
func outageOf(err error) outageKind {
	c, ok := ckr(err)
	if !ok {
		return notOutage
	}
	switch c {
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_USER_NOT_LOGGED_IN,
		pkcs11.CKR_DEVICE_MEMORY:
		return sessionLost
	case pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_TOKEN_NOT_RECOGNIZED,
		pkcs11.CKR_SLOT_ID_INVALID:
		return tokenLost
	case pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED:
		return moduleLost
	}
	return notOutage
}

// isLost reports an error after which the session (and usually every
// session on the token) is unusable: see outageOf.
func isLost(err error) bool { return outageOf(err) != notOutage }

// isHandleInvalid reports an object handle the token no longer knows: the
// object was deleted or the token renumbered its handles after a re-login.
func isHandleInvalid(err error) bool {
	c, ok := ckr(err)
	return ok && (c == pkcs11.CKR_KEY_HANDLE_INVALID || c == pkcs11.CKR_OBJECT_HANDLE_INVALID)
}

// isRefusedParameters reports a mechanism or parameter combination the
// token does not implement: SoftHSM2 answers OAEP with SHA-256 by
// CKR_ARGUMENTS_BAD, others by CKR_MECHANISM_PARAM_INVALID.
func isRefusedParameters(err error) bool {
	c, ok := ckr(err)
	if !ok {
		return false
	}
	switch c {
	case pkcs11.CKR_ARGUMENTS_BAD, pkcs11.CKR_MECHANISM_INVALID, pkcs11.CKR_MECHANISM_PARAM_INVALID,
		pkcs11.CKR_FUNCTION_NOT_SUPPORTED, pkcs11.CKR_KEY_SIZE_RANGE, pkcs11.CKR_CURVE_NOT_SUPPORTED,
		pkcs11.CKR_DOMAIN_PARAMS_INVALID, pkcs11.CKR_KEY_TYPE_INCONSISTENT, pkcs11.CKR_TEMPLATE_INCONSISTENT,
		pkcs11.CKR_ATTRIBUTE_VALUE_INVALID, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID, pkcs11.CKR_TEMPLATE_INCOMPLETE:
		return true
	}
	return false
}

// unsupported wraps a refusal from the token as backend.ErrUnsupported,
// keeping the PKCS #11 code for errors.As.
func unsupported(what string, err error) error {
	return fmt.Errorf("%s: token refused: %w: %w", what, err, backend.ErrUnsupported)
}

// classify maps a failed PKCS #11 call in an operation to the contract's
// sentinels, keeping the PKCS #11 code in the chain.
func classify(call string, err error) error {
	switch {
	case isAuthError(err):
		return fmt.Errorf("%s: %w: %w", call, err, backend.ErrAuth)
	case isRefusedParameters(err):
		return unsupported(call, err)
	}
	if c, ok := ckr(err); ok && c == pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED {
		return fmt.Errorf("%s: key was not created for this use: %w: %w", call, err, backend.ErrUnsupported)
	}
	return fmt.Errorf("%s: %w", call, err)
}
