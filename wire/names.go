package wire

import (
	"crypto"
	"fmt"
	"strings"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// HashName returns the wire name of h: h.String() ("SHA-256"), or "" for 0.
func HashName(h crypto.Hash) string {
	if h == 0 {
		return ""
	}
	return h.String()
}

// ParseHash returns the crypto.Hash whose String is name, or 0 for "". An
// unknown name is an error; a known hash that is not linked into the binary is
// not (the backend refuses it with backend.ErrUnsupported).
func ParseHash(name string) (crypto.Hash, error) {
	if name == "" {
		return 0, nil
	}
	for h := crypto.MD4; h < 64; h++ {
		s := h.String()
		if strings.HasPrefix(s, "unknown hash value") {
			break
		}
		if s == name {
			return h, nil
		}
	}
	return 0, fmt.Errorf("unknown hash %q", name)
}

var usageNames = []struct {
	u    backend.Usage
	name string
}{{backend.UsageSign, "sign"}, {backend.UsageDecrypt, "decrypt"}, {backend.UsageDecapsulate, "decapsulate"}}

// UsageNames returns the wire names of u.
func UsageNames(u backend.Usage) []string {
	out := []string{}
	for _, n := range usageNames {
		if u&n.u != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// ParseUsage returns the usage the wire names describe; none is 0.
func ParseUsage(names []string) (backend.Usage, error) {
	var u backend.Usage
next:
	for _, s := range names {
		for _, n := range usageNames {
			if n.name == s {
				u |= n.u
				continue next
			}
		}
		return 0, fmt.Errorf("unknown usage %q", s)
	}
	return u, nil
}

var opNames = []struct {
	op   backend.Ops
	name string
}{{backend.OpGenerate, "generate"}, {backend.OpSign, "sign"}, {backend.OpDecrypt, "decrypt"}, {backend.OpDecapsulate, "decapsulate"}, {backend.OpImport, "import"}}

// OpsNames returns the wire names of the operations in o that the server
// offers over HTTP (import through POST /v1/key/import).
func OpsNames(o backend.Ops) []string {
	out := []string{}
	for _, n := range opNames {
		if o.Has(n.op) {
			out = append(out, n.name)
		}
	}
	return out
}

// ParseOps is the inverse of [OpsNames]; unknown names are ignored so that
// an older client understands a newer server.
func ParseOps(names []string) backend.Ops {
	var o backend.Ops
	for _, s := range names {
		for _, n := range opNames {
			if n.name == s {
				o |= n.op
			}
		}
	}
	return o
}

// Unix returns t as Unix seconds, 0 for the zero time.
func Unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
