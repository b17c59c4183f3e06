package refserver_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
)

// jwtAnswers are the routes a JWT holding the route's role still cannot
// use, and why: they act on a session, or on the calling registered
// client, or need a person the store knows (a one-time PIN is issued by a
// user holding admin, not by an application or an outside identity), or
// on a parked request or approval task that is someone else's.
var jwtAnswers = map[string]int{
	"POST /sys/v1/session/reauth":    http.StatusBadRequest, // only a session can be renewed
	"POST /sys/v1/session/terminate": http.StatusBadRequest, // only a session can be terminated
	"PUT /v1/clients/backup":         http.StatusForbidden,  // only a registered client has a backup
	"POST /users/{user}/secrets":     http.StatusForbidden,  // only a user issues PINs

	// A parked request belongs to its requester and a task to the
	// approvers its policy names: anyone else, a JWT's principal included,
	// finds none (404, so their IDs reveal nothing).
	"GET /v1/approvals/requests/{id}":         http.StatusNotFound,
	"DELETE /v1/approvals/requests/{id}":      http.StatusNotFound,
	"POST /v1/approvals/requests/{id}/result": http.StatusNotFound,
	"GET /v1/approvals/tasks/{id}":            http.StatusNotFound,
	"POST /v1/approvals/tasks/{id}/decision":  http.StatusNotFound,
}

// TestRouteRoleMatrixJWT calls every route with a JWT from a trusted
// issuer holding each single role — alone, and beside an application's
// API key for the same role (both must hold: the request gets the role)
// and for another role (the request gets none). A permitted JWT gets 2xx
// (or the answer jwtAnswers names), any other 403; public routes answer
// without a credential as before.
func TestRouteRoleMatrixJWT(t *testing.T) {
	i := newIDP(t)
	w := newWorld(t, refservertest.Options{JWTIssuers: []jwtauth.Issuer{i.issuer(nil)}})
	// keys[instance][role] is an API key for role, on each instance the
	// calls go to (the TPM-backed one has its own store).
	keys := map[*refservertest.Instance]map[authn.Role]string{}
	keysOn := func(in *refservertest.Instance) map[authn.Role]string {
		if keys[in] == nil {
			_, keys[in] = in.Application(t, authn.AllRoles...)
		}
		return keys[in]
	}
	for _, rt := range refserver.Routes() {
		if rt.Public {
			continue // TestRouteRoleMatrix covers them; they take no credential
		}
		fix := fixtures[rt.Pattern()]
		t.Run(rt.Pattern(), func(t *testing.T) {
			for _, role := range authn.AllRoles {
				tok := i.token(t, []authn.Role{role}, nil)
				want := func(status int, body, what string) {
					t.Helper()
					switch {
					case !rt.Roles.Has(role):
						require.Equal(t, http.StatusForbidden, status, "%s, role %s: %s", what, role, body)
					case jwtAnswers[rt.Pattern()] != 0:
						require.Equal(t, jwtAnswers[rt.Pattern()], status, "%s, role %s: %s", what, role, body)
					default:
						require.True(t, status >= 200 && status < 300, "%s, role %s: status %d: %s", what, role, status, body)
					}
				}
				c := fix(t, w)
				c.client = false
				status, body := w.do(t, rt.Method, c, func(h http.Header) { h.Set("Authorization", "Bearer "+tok) })
				want(status, body, "JWT alone")

				if rt.Pattern() == "PUT /v1/clients/backup" || rt.Pattern() == "POST /sys/v1/session/reauth" || rt.Pattern() == "POST /sys/v1/session/terminate" {
					continue // act on the caller's own session or client record
				}
				c = fix(t, w)
				status, body = w.do(t, rt.Method, c, func(h http.Header) {
					h.Set("Authorization", "Bearer "+tok)
					h.Set("X-API-KEY", keysOn(w.server(t, c))[role])
				})
				want(status, body, "API key and JWT for the same role")

				other := authn.AllRoles[(int(role))%len(authn.AllRoles)]
				c = fix(t, w)
				status, body = w.do(t, rt.Method, c, func(h http.Header) {
					h.Set("Authorization", "Bearer "+tok)
					h.Set("X-API-KEY", keysOn(w.server(t, c))[other])
				})
				require.Equal(t, http.StatusForbidden, status, "API key for %s with a JWT for %s: the roles both grant are none: %s", other, role, body)
			}
		})
	}
}
