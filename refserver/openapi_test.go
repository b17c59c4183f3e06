package refserver_test

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/wire"
)

// openAPIRoutes reads the operations of docs/openapi.yaml: under "paths:",
// a path at two spaces' indent, a method at four, and its x-roles or
// x-public at six. It returns "METHOD /path" → "role,role" or "public".
func openAPIRoutes(t *testing.T) map[string]string {
	f, err := os.Open(filepath.Join("..", "docs", "openapi.yaml"))
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	var inPaths bool
	var path, op string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case line == "paths:":
			inPaths = true
		case !inPaths || trim == "" || strings.HasPrefix(trim, "#"):
		case indent == 0:
			inPaths = false
		case indent == 2 && strings.HasSuffix(trim, ":"):
			path = strings.TrimSuffix(trim, ":")
		case indent == 4 && strings.HasSuffix(trim, ":"):
			op = strings.ToUpper(strings.TrimSuffix(trim, ":")) + " " + path
			out[op] = ""
		case indent == 6 && strings.HasPrefix(trim, "x-roles:"):
			roles := strings.Trim(strings.TrimSpace(strings.TrimPrefix(trim, "x-roles:")), "[]")
			var rs []string
			for _, r := range strings.Split(roles, ",") {
				rs = append(rs, strings.TrimSpace(r))
			}
			sort.Strings(rs)
			out[op] = strings.Join(rs, ",")
		case indent == 6 && trim == "x-public: true":
			out[op] = "public"
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// TestOpenAPIMatchesRoutes checks that docs/openapi.yaml lists exactly the
// routes of the route table, each with the same roles.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := openAPIRoutes(t)
	want := map[string]string{}
	for _, rt := range refserver.Routes() {
		access := "public"
		if !rt.Public {
			var rs []string
			for _, r := range rt.Roles.Roles() {
				rs = append(rs, r.String())
			}
			sort.Strings(rs)
			access = strings.Join(rs, ",")
		}
		want[rt.Pattern()] = access
	}
	require.Equal(t, want, doc)
}

// TestOpenAPIErrorCodesMatchWire checks that the ErrorBody code enum of
// docs/openapi.yaml lists exactly the codes of package wire, each with a
// status StatusOf knows.
func TestOpenAPIErrorCodesMatchWire(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "openapi.yaml"))
	require.NoError(t, err)
	var doc []string
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "code: {type: string, enum: ["); ok {
			for _, c := range strings.Split(strings.TrimSuffix(rest, "]}"), ",") {
				doc = append(doc, strings.TrimSpace(c))
			}
		}
	}
	want := wire.Codes()
	require.ElementsMatch(t, want, doc)
	for _, c := range want {
		if c != wire.CodeInternal {
			require.NotEqual(t, 500, wire.StatusOf(c), c)
		}
	}
}

// TestOpenAPIDeclaresJWT checks what docs/openapi.yaml says about JWTs:
// the scheme exists, a JWT is accepted alone and beside an API key, and
// session renewal and termination take a session only (as
// TestRouteRoleMatrixJWT finds).
func TestOpenAPIDeclaresJWT(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "openapi.yaml"))
	require.NoError(t, err)
	doc := string(b)
	require.Contains(t, doc, "    jwt: {type: http, scheme: bearer, bearerFormat: JWT")
	require.Contains(t, doc, "\n  - jwt: []\n")
	require.Contains(t, doc, "\n  - {apiKey: [], jwt: []}\n")
	for _, route := range []string{"/sys/v1/session/reauth", "/sys/v1/session/terminate"} {
		i := strings.Index(doc, "\n  "+route+":\n")
		require.Positive(t, i, route)
		end := strings.Index(doc[i+1:], "\n  /")
		require.Contains(t, doc[i:i+1+end], "security: [{session: []}]", route)
	}
}
