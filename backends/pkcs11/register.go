package pkcs11

import "github.com/cryptoplug/cryptoplug/backend"

func init() { backend.Register(Scheme, open) }
