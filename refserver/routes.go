package refserver

import (
	"errors"
	"fmt"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/seal"
)

// Route is one entry of the server's route table: a method and a
// net/http.ServeMux path pattern, and who may call it.
//
// Exactly one of Public and Roles is set. A Public route is reached without
// authentication by the server (its handler may check a credential of its
// own: HTTP Basic or a client certificate to create a session, a PIN, a
// registration token). Any other route is called only by a principal
// holding at least one of Roles; every other caller gets 401 or 403. [New]
// refuses a table with a route that declares neither.
type Route struct {
	Method  string
	Path    string
	Roles   authn.RoleSet
	Public  bool
	Summary string
	// MaxBody bounds the request body in bytes; 0 means DefaultMaxBody.
	MaxBody int64

	handle func(*Server, *request) error
}

// Pattern returns the ServeMux pattern: "POST /v1/sign".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// DefaultMaxBody bounds a request body when a route sets no MaxBody.
const DefaultMaxBody = 64 << 10

// maxBackupBody fits a base64 backup of seal.MaxLen in JSON.
const maxBackupBody = seal.MaxLen*4/3 + 4096

var (
	roleKeys    = authn.NewRoleSet(authn.RoleKeyManagement)
	roleOps     = authn.NewRoleSet(authn.RoleKeyOperation)
	roleService = authn.NewRoleSet(authn.RoleService)
	roleAdmin   = authn.NewRoleSet(authn.RoleAdmin)
	anyRole     = authn.NewRoleSet(authn.AllRoles...)
	// who manages a key or uses it may ask where it lives.
	roleKeysAndOps = authn.NewRoleSet(authn.RoleKeyManagement, authn.RoleKeyOperation)
	// capabilities are needed by whoever generates keys or uses them.
	roleKeysOrOps = authn.NewRoleSet(authn.RoleKeyManagement, authn.RoleKeyOperation, authn.RoleService)
	roleApprover  = authn.NewRoleSet(authn.RoleApprover)
	roleApprovers = authn.NewRoleSet(authn.RoleApproverKeyManagement)
	// requesters of approval tasks: key users and key managers.
	roleRequester = authn.NewRoleSet(authn.RoleKeyManagement, authn.RoleKeyOperation)
)

// routeTable is the server's every route. Keep docs/openapi.yaml in step:
// TestOpenAPIMatchesRoutes fails otherwise.
func routeTable() []Route {
	return []Route{
		// Service.
		{Method: "GET", Path: "/healthz", Public: true, Summary: "liveness: 200 when the server answers", handle: (*Server).health},
		{Method: "GET", Path: "/readyz", Public: true, Summary: "readiness: 200 while the backend serves operations, 503 while its store is gone", handle: (*Server).ready},
		{Method: "GET", Path: "/metrics", Roles: roleService, Summary: "Prometheus metrics", handle: (*Server).metricsPage},
		{Method: "GET", Path: "/v1/versionInfo", Roles: roleService, Summary: "server version and backend description", handle: (*Server).versionInfo},
		{Method: "GET", Path: "/v1/keystore/statistics", Roles: roleService, Summary: "key counts by algorithm", handle: (*Server).statistics},
		{Method: "GET", Path: "/v1/capabilities", Roles: roleKeysOrOps, Summary: "algorithms and operations the backend offers", handle: (*Server).capabilities},

		// Keys.
		{Method: "POST", Path: "/v1/key", Roles: roleKeys, Summary: "generate a key", handle: (*Server).createKey},
		{Method: "POST", Path: "/v1/key/import", Roles: roleKeys, Summary: "import a private key", handle: (*Server).importKey},
		{Method: "GET", Path: "/v1/key", Roles: roleKeys, Summary: "list keys (or find one by ?id=hex)", handle: (*Server).listKeys},
		{Method: "GET", Path: "/v1/key/{label}", Roles: roleKeys, Summary: "describe a key", handle: (*Server).getKey},
		{Method: "DELETE", Path: "/v1/key/{label}", Roles: roleKeys, Summary: "destroy a key", handle: (*Server).deleteKey},
		{Method: "PUT", Path: "/v1/key/{label}/group", Roles: roleKeys, Summary: "give a key to another group (keyManagement in both)", handle: (*Server).moveKey},
		{Method: "POST", Path: "/v1/attestation/key/{label}", Roles: roleKeysAndOps, Summary: "evidence that a key lives in the backend's hardware (TPM: tpm2-certify)", handle: (*Server).attestKey},
		{Method: "GET", Path: "/v1/key/{label}/policy", Roles: roleKeys, Summary: "a key's approval policy and blocked state", handle: (*Server).getKeyPolicy},
		{Method: "PUT", Path: "/v1/key/{label}/policy", Roles: roleKeys, Summary: "replace a key's approval policy (202 when its policy rules ask for approvals)", handle: (*Server).putKeyPolicy},
		{Method: "POST", Path: "/v1/key/{label}/block", Roles: roleKeys, Summary: "block a key: no use until unblocked (202 under block rules)", handle: (*Server).blockKey},
		{Method: "POST", Path: "/v1/key/{label}/unblock", Roles: roleKeys, Summary: "unblock a key (202 under block rules)", handle: (*Server).unblockKey},

		// Key operations.
		{Method: "POST", Path: "/v1/sign", Roles: roleOps, Summary: "sign a message or digest", handle: (*Server).sign},
		{Method: "POST", Path: "/v1/verify", Roles: roleOps, Summary: "verify a signature with the key's public key", handle: (*Server).verify},
		{Method: "POST", Path: "/v1/encrypt", Roles: roleOps, Summary: "encrypt to the key's RSA public key", handle: (*Server).encrypt},
		{Method: "POST", Path: "/v1/decrypt", Roles: roleOps, Summary: "decrypt with the key", handle: (*Server).decrypt},
		{Method: "POST", Path: "/v1/encapsulate", Roles: roleOps, Summary: "ML-KEM encapsulation to the key's public key", handle: (*Server).encapsulate},
		{Method: "POST", Path: "/v1/decapsulate", Roles: roleOps, Summary: "ML-KEM decapsulation with the key", handle: (*Server).decapsulate},
		{Method: "GET", Path: "/v1/generateRandom/{length}", Roles: roleOps, Summary: "random bytes from the server", handle: (*Server).generateRandom},

		// Multi-authorization: requesters follow, cancel and collect their
		// parked operations; approvers decide them; approver management
		// registers who approves with which key.
		{Method: "GET", Path: "/v1/approvals/requests/{id}", Roles: roleRequester, Summary: "the state of the caller's parked operation", handle: (*Server).getApprovalRequest},
		{Method: "DELETE", Path: "/v1/approvals/requests/{id}", Roles: roleRequester, Summary: "cancel the caller's parked operation", handle: (*Server).cancelApprovalRequest},
		{Method: "POST", Path: "/v1/approvals/requests/{id}/result", Roles: roleRequester, Summary: "run the caller's approved operation and return its result, once", handle: (*Server).collectApprovalRequest},
		{Method: "GET", Path: "/v1/approvals/tasks", Roles: roleApprover, Summary: "the open tasks the calling approver may decide", handle: (*Server).listApprovalTasks},
		{Method: "GET", Path: "/v1/approvals/tasks/{id}", Roles: roleApprover, Summary: "a task the calling approver is named in", handle: (*Server).getApprovalTask},
		{Method: "POST", Path: "/v1/approvals/tasks/{id}/decision", Roles: roleApprover, Summary: "approve or reject a task, signed with the approver's registered key", handle: (*Server).decideApprovalTask},
		{Method: "POST", Path: "/sys/v1/approvers", Roles: roleApprovers, Summary: "register an approver's public key", handle: (*Server).createApprover},
		{Method: "GET", Path: "/sys/v1/approvers", Roles: roleApprovers, Summary: "list approvers", handle: (*Server).listApprovers},
		{Method: "GET", Path: "/sys/v1/approvers/{principal}", Roles: roleApprovers, Summary: "describe an approver", handle: (*Server).getApprover},
		{Method: "DELETE", Path: "/sys/v1/approvers/{principal}", Roles: roleApprovers, Summary: "remove an approver no key policy names", handle: (*Server).deleteApprover},

		// Sessions.
		{Method: "POST", Path: "/sys/v1/session/auth", Public: true, Summary: "create a session from HTTP Basic or a client certificate", handle: (*Server).sessionAuth},
		{Method: "POST", Path: "/sys/v1/session/reauth", Roles: anyRole, Summary: "exchange the caller's session for a new one", handle: (*Server).sessionReauth},
		{Method: "POST", Path: "/sys/v1/session/terminate", Roles: anyRole, Summary: "end the caller's session", handle: (*Server).sessionTerminate},

		// Administration.
		{Method: "POST", Path: "/sys/v1/apps", Roles: roleAdmin, Summary: "create an application", handle: (*Server).createApp},
		{Method: "GET", Path: "/sys/v1/apps", Roles: roleAdmin, Summary: "list applications", handle: (*Server).listApps},
		{Method: "GET", Path: "/sys/v1/apps/{id}", Roles: roleAdmin, Summary: "describe an application", handle: (*Server).getAccount},
		{Method: "DELETE", Path: "/sys/v1/apps/{id}", Roles: roleAdmin, Summary: "delete an application", handle: (*Server).deleteAccount},
		{Method: "POST", Path: "/sys/v1/apps/{id}/reset_secret", Roles: roleAdmin, Summary: "regenerate an application's API keys, ending its sessions", handle: (*Server).resetSecret},
		{Method: "POST", Path: "/sys/v1/apps/{id}/method", Roles: roleAdmin, Summary: "switch an application between API keys and a certificate", handle: (*Server).switchMethod},
		{Method: "POST", Path: "/sys/v1/apps/{id}/apikeys", Roles: roleAdmin, Summary: "issue an API key for one role", handle: (*Server).createAPIKey},
		{Method: "GET", Path: "/sys/v1/apps/{id}/apikeys", Roles: roleAdmin, Summary: "list an application's API keys", handle: (*Server).listAPIKeys},
		{Method: "DELETE", Path: "/sys/v1/apikeys/{id}", Roles: roleAdmin, Summary: "revoke an API key", handle: (*Server).revokeAPIKey},
		{Method: "POST", Path: "/sys/v1/apikeys/{id}/rotate", Roles: roleAdmin, Summary: "replace an API key, keeping the old one for an overlap", handle: (*Server).rotateAPIKey},
		{Method: "DELETE", Path: "/sys/v1/accounts/{id}/sessions", Roles: roleAdmin, Summary: "end every session of a principal", handle: (*Server).terminateSessions},
		{Method: "POST", Path: "/sys/v1/users", Roles: roleAdmin, Summary: "create a user", handle: (*Server).createUser},
		{Method: "GET", Path: "/sys/v1/users", Roles: roleAdmin, Summary: "list users", handle: (*Server).listUsers},
		{Method: "GET", Path: "/sys/v1/users/{id}", Roles: roleAdmin, Summary: "describe a user", handle: (*Server).getAccount},
		{Method: "DELETE", Path: "/sys/v1/users/{id}", Roles: roleAdmin, Summary: "delete a user", handle: (*Server).deleteAccount},
		{Method: "PUT", Path: "/sys/v1/users/{id}/password", Roles: roleAdmin, Summary: "set a user's password, ending their sessions and revoking their user secret and pending PIN", handle: (*Server).setPassword},
		{Method: "POST", Path: "/sys/v1/registrationTokens", Roles: roleAdmin, Summary: "issue a registration token", handle: (*Server).createRegistrationToken},
		{Method: "GET", Path: "/sys/v1/registrationTokens", Roles: roleAdmin, Summary: "list registration tokens", handle: (*Server).listRegistrationTokens},
		{Method: "DELETE", Path: "/sys/v1/registrationTokens/{id}", Roles: roleAdmin, Summary: "revoke a registration token", handle: (*Server).revokeRegistrationToken},
		{Method: "GET", Path: "/sys/v1/clients/{id}/backup", Roles: roleAdmin, Summary: "fetch a client's sealed backup", handle: (*Server).getBackup},

		// Groups: who may use which keys.
		{Method: "POST", Path: "/sys/v1/groups", Roles: roleAdmin, Summary: "create a group", handle: (*Server).createGroup},
		{Method: "GET", Path: "/sys/v1/groups", Roles: roleAdmin, Summary: "list groups", handle: (*Server).listGroups},
		{Method: "GET", Path: "/sys/v1/groups/{id}", Roles: roleAdmin, Summary: "describe a group and its members", handle: (*Server).getGroup},
		{Method: "DELETE", Path: "/sys/v1/groups/{id}", Roles: roleAdmin, Summary: "delete a group that owns no key", handle: (*Server).deleteGroup},
		{Method: "PUT", Path: "/sys/v1/groups/{id}/members/{principal}", Roles: roleAdmin, Summary: "set the roles a principal holds in a group", handle: (*Server).setGroupMember},
		{Method: "DELETE", Path: "/sys/v1/groups/{id}/members/{principal}", Roles: roleAdmin, Summary: "remove a principal from a group", handle: (*Server).deleteGroupMember},

		// User secrets.
		{Method: "POST", Path: "/users/{user}/secrets", Roles: roleAdmin, Summary: "issue a one-time PIN for a user's secret", handle: (*Server).createPIN},
		{Method: "PATCH", Path: "/users/{user}/secrets", Roles: roleAdmin, Summary: "set when a user's secret stops working", handle: (*Server).setSecretValidity},
		{Method: "DELETE", Path: "/users/{user}/secrets", Roles: roleAdmin, Summary: "revoke a user's secret", handle: (*Server).deleteSecret},
		{Method: "POST", Path: "/secrets/{account}", Public: true, Summary: "redeem a PIN (in the body) for the user's secret, shown once", handle: (*Server).redeemPIN},

		// Clients.
		{Method: "POST", Path: "/v1/clients/register", Public: true, MaxBody: maxBackupBody, Summary: "register a client with a registration token (in the body)", handle: (*Server).registerClient},
		{Method: "GET", Path: "/v1/clients/recoveryKey", Public: true, Summary: "the public key clients seal backups to", handle: (*Server).recoveryKey},
		{Method: "PUT", Path: "/v1/clients/backup", Roles: anyRole, MaxBody: maxBackupBody, Summary: "store the calling client's sealed backup", handle: (*Server).putBackup},
	}
}

// Routes returns a copy of the server's route table, in the order the
// documentation lists it.
func Routes() []Route { return routeTable() }

// checkRoutes is what New refuses to start with: a route that declares no
// access (or both kinds), an undefined role, no handler, or a duplicate.
func checkRoutes(routes []Route) error {
	seen := map[string]bool{}
	var errs []error
	for _, rt := range routes {
		p := rt.Pattern()
		switch {
		case rt.Method == "" || rt.Path == "" || rt.Path[0] != '/':
			errs = append(errs, fmt.Errorf("route %q: method and absolute path required", p))
		case rt.handle == nil:
			errs = append(errs, fmt.Errorf("route %q: no handler", p))
		case rt.Public && rt.Roles != 0:
			errs = append(errs, fmt.Errorf("route %q: both public and role-protected", p))
		case !rt.Public && rt.Roles == 0:
			errs = append(errs, fmt.Errorf("route %q: declares no role", p))
		case !rt.Roles.Valid():
			errs = append(errs, fmt.Errorf("route %q: undefined role", p))
		case seen[p]:
			errs = append(errs, fmt.Errorf("route %q: declared twice", p))
		}
		seen[p] = true
	}
	return errors.Join(errs...)
}
