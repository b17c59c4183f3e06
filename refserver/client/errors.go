package client

import (
	"crypto/rsa"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// sentinels maps each code to the errors it matches.
var sentinels = map[string][]error{
	wire.CodeInvalidInput:         {backend.ErrInvalidInput, autherr.ErrInvalidArgument},
	wire.CodeBadRequest:           {backend.ErrInvalidInput},
	wire.CodeUnsupported:          {backend.ErrUnsupported},
	wire.CodeDecryptionFailed:     {rsa.ErrDecryption},
	wire.CodeCredentialInURL:      {autherr.ErrCredentialInURL},
	wire.CodeUnauthenticated:      {autherr.ErrUnauthenticated, backend.ErrAuth},
	wire.CodeForbidden:            {autherr.ErrForbidden, backend.ErrAuth},
	wire.CodeNotFound:             {autherr.ErrNotFound},
	wire.CodeKeyNotFound:          {backend.ErrKeyNotFound},
	wire.CodeConflict:             {autherr.ErrAlreadyExists},
	wire.CodeKeyExists:            {backend.ErrKeyExists},
	wire.CodeTooLarge:             {backend.ErrInvalidInput}, // a request over the server's stated bound
	wire.CodeInUse:                {autherr.ErrInUse},
	wire.CodeUnsupportedMediaType: {backend.ErrInvalidInput},
	wire.CodeRateLimited:          {autherr.ErrRateLimited},
	wire.CodeNotExtractable:       {backend.ErrNotExtractable},
	wire.CodeBackendUnavailable:   {},
	wire.CodeKeyBlocked:           {autherr.ErrKeyBlocked},
	wire.CodeApprovalPending:      {autherr.ErrApprovalPending},
	wire.CodeTaskClosed:           {autherr.ErrTaskClosed},
	wire.CodeApprovalRejected:     {autherr.ErrApprovalRejected},
	wire.CodeInvalidApproval:      {autherr.ErrInvalidApproval},
	wire.CodeTooManyTasks:         {autherr.ErrTooManyTasks},
}

// Unwrap returns the sentinels e's code stands for: backend.ErrKeyNotFound
// for "key_not_found", backend.ErrInvalidInput and autherr.ErrInvalidArgument
// for "invalid_input", rsa.ErrDecryption for "decryption_failed",
// autherr.ErrUnauthenticated and backend.ErrAuth for 401, and so on.
func (e *Error) Unwrap() []error { return sentinels[e.Code] }
