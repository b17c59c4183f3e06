package client

import (
	"crypto/rsa"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver/api"
)

// sentinels maps each code to the errors it matches.
var sentinels = map[string][]error{
	api.CodeInvalidInput:       {backend.ErrInvalidInput, authn.ErrInvalidArgument},
	api.CodeBadRequest:         {backend.ErrInvalidInput},
	api.CodeUnsupported:        {backend.ErrUnsupported},
	api.CodeDecryptionFailed:   {rsa.ErrDecryption},
	api.CodeCredentialInURL:    {authn.ErrCredentialInURL},
	api.CodeUnauthenticated:    {authn.ErrUnauthenticated, backend.ErrAuth},
	api.CodeForbidden:          {authn.ErrForbidden, backend.ErrAuth},
	api.CodeNotFound:           {authn.ErrNotFound},
	api.CodeKeyNotFound:        {backend.ErrKeyNotFound},
	api.CodeConflict:           {authn.ErrAlreadyExists},
	api.CodeKeyExists:          {backend.ErrKeyExists},
	api.CodeRateLimited:        {authn.ErrRateLimited},
	api.CodeNotExtractable:     {backend.ErrNotExtractable},
	api.CodeBackendUnavailable: {},
}

// Unwrap returns the sentinels e's code stands for: backend.ErrKeyNotFound
// for "key_not_found", backend.ErrInvalidInput and authn.ErrInvalidArgument
// for "invalid_input", rsa.ErrDecryption for "decryption_failed",
// authn.ErrUnauthenticated and backend.ErrAuth for 401, and so on.
func (e *Error) Unwrap() []error { return sentinels[e.Code] }
