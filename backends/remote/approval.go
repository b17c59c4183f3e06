package remote

import (
	"context"
	"errors"

	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/wire"
)

// settle follows an operation the server parked for approval (err is a
// *client.ApprovalRequiredError): it waits, within ctx, until the request
// is approved and returns the collected result (parked is then true). A
// rejection, an expiry or a cancellation ends the wait with an error that
// says so; when ctx ends first the request is cancelled on the server, so
// that no approver is asked for an operation nobody waits for. Any other
// err is returned as it is.
func (b *Backend) settle(ctx context.Context, err error) (res wire.ApprovalResult, parked bool, _ error) {
	var pending *client.ApprovalRequiredError
	if !errors.As(err, &pending) {
		return res, false, err
	}
	res, err = b.c.AwaitApproval(ctx, pending.Pending.RequestID)
	return res, true, err
}
