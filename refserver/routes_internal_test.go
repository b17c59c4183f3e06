package refserver

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/wire"
)

func TestRouteTableIsValid(t *testing.T) {
	require.NoError(t, checkRoutes(routeTable()))
}

// A route that declares no role (and is not public) must stop the server
// from starting, as must other malformed entries.
func TestCheckRoutesRefuses(t *testing.T) {
	h := func(*Server, *request) error { return nil }
	cases := []struct {
		name string
		rt   Route
	}{
		{"no role", Route{Method: "GET", Path: "/x", handle: h}},
		{"public and role", Route{Method: "GET", Path: "/x", Public: true, Roles: roleAdmin, handle: h}},
		{"undefined role", Route{Method: "GET", Path: "/x", Roles: authn.RoleSet(1 << 7), handle: h}},
		{"no handler", Route{Method: "GET", Path: "/x", Roles: roleAdmin}},
		{"relative path", Route{Method: "GET", Path: "x", Roles: roleAdmin, handle: h}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, checkRoutes(append(routeTable(), tc.rt)))
		})
	}
	dup := routeTable()
	require.Error(t, checkRoutes(append(dup, dup[0])), "duplicate route")
}

// The client sends API keys in the header wire names; authn reads the one
// it names. They must be the same header.
func TestAPIKeyHeaderAgrees(t *testing.T) {
	require.Equal(t, authn.APIKeyHeader, wire.APIKeyHeader)
}
