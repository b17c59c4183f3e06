//go:build !linux

package ocsptest

import (
	"errors"
	"os"
	"syscall"
)

var errNoNamespaces = errors.New("ocsptest: the responder runs in a Linux network namespace; this is not Linux")

func ownNetworkNamespace() *syscall.SysProcAttr { return nil }

func inNamespace(*os.File, func() error) error { return errNoNamespaces }

func loopbackUp() error { return errNoNamespaces }
