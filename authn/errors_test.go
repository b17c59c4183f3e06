package authn_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/autherr"
)

// authn's sentinels are autherr's values, so errors.Is matches whichever
// package a caller names, and the two sub-sentinels still match
// ErrUnauthenticated.
func TestSentinelsAreAutherrs(t *testing.T) {
	for _, pair := range [][2]error{
		{authn.ErrUnauthenticated, autherr.ErrUnauthenticated},
		{authn.ErrForbidden, autherr.ErrForbidden},
		{authn.ErrRateLimited, autherr.ErrRateLimited},
		{authn.ErrMalformedCredential, autherr.ErrMalformedCredential},
		{authn.ErrCredentialInURL, autherr.ErrCredentialInURL},
		{authn.ErrNotFound, autherr.ErrNotFound},
		{authn.ErrAlreadyExists, autherr.ErrAlreadyExists},
		{authn.ErrInUse, autherr.ErrInUse},
		{authn.ErrInvalidArgument, autherr.ErrInvalidArgument},
		{authn.ErrKeyBlocked, autherr.ErrKeyBlocked},
		{authn.ErrApprovalPending, autherr.ErrApprovalPending},
		{authn.ErrTaskClosed, autherr.ErrTaskClosed},
		{authn.ErrApprovalRejected, autherr.ErrApprovalRejected},
		{authn.ErrInvalidApproval, autherr.ErrInvalidApproval},
		{authn.ErrTooManyTasks, autherr.ErrTooManyTasks},
	} {
		require.Same(t, pair[1], pair[0], "%v", pair[0])
	}
	require.True(t, errors.Is(autherr.ErrMalformedCredential, authn.ErrUnauthenticated))
	require.True(t, errors.Is(&authn.CredentialInURLError{Param: "q"}, autherr.ErrUnauthenticated))
	require.True(t, errors.Is(autherr.ErrApprovalRejected, authn.ErrTaskClosed))
}
