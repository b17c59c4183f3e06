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
// in headers only (X-API-KEY, Authorization: Bearer <session>, or
// Authorization: <user secret>); one in a URL is refused with 400. Errors
// are {"error": {"code", "message"}} with the fitting status; internal
// causes go to the audit log, never to the client.
//
// What it never does: log or echo a credential, key material or a message
// to sign; release a private key; import keys over HTTP.
package refserver
