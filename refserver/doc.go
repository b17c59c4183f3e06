// Package refserver is cryptoplug's reference server: one backend.Backend
// behind HTTP, with callers authenticated and authorised by
// github.com/cryptoplug/cryptoplug/authn.
//
// Start with the binary, cmd/refserver: `refserver init -data DIR` creates
// everything a first start needs and prints the administrator's credential
// once; `refserver serve -data DIR` serves HTTPS. In Go, [New] returns the
// http.Handler for any server you build yourself, and [Run] is what the
// binary serves with (TLS 1.3, timeouts, graceful shutdown on context
// cancellation). Clients use github.com/cryptoplug/cryptoplug/refserver/client,
// or the "remote" backend (backends/remote) to use the server's keys through
// the backend contract. The wire format is in package wire and
// docs/openapi.yaml.
//
// Every route is declared in one table ([Routes]) with the roles that may
// call it; the server will not start with a route that declares none, and
// answers anything unknown with 404 before authentication. Credentials travel
// in headers only (X-API-KEY, Authorization: Bearer <session>,
// Authorization: Bearer <JWT> from a configured issuer — alone, or beside an
// X-API-KEY when both must hold — or Authorization: <user secret>);
// anything shaped like one anywhere in a URL is refused with 400. With
// client_ca and ocsp, every request presenting a client certificate is
// checked with the CA's OCSP responder; a revoked one gets 401. A body must be application/json (415 otherwise),
// valid UTF-8 without escaped lone surrogates, without duplicate keys; every
// number and list a caller controls is checked against its bound (in
// package wire) before any work. Keys belong to groups: an operation on a
// key needs the route's role in the caller's membership of the key's group.
// A key may carry an approval policy (docs/approvals.md): an operation
// its rules cover is answered 202 and parked as a task that approvers
// sign; the requester collects the result once the quorum is reached,
// exactly once across instances sharing a database.
// Errors are {"error": {"code", "message"}} with the fitting status; the
// message never holds a URI, a path, an internal error's text or a value
// the caller sent; internal causes go to the audit log, never to the
// client.
//
// What it never does: log or echo a credential, key material or a message
// to sign (the audit log drops quoted input and redacts anything shaped
// like a credential); release a private key.
package refserver
