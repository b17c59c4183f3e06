// Package remote is the cryptoplug backend whose keys live behind a
// reference server (github.com/cryptoplug/cryptoplug/refserver): each
// operation is one HTTPS request, made with refserver/client. Import it for
// its side effect and open a URI with backend.Open:
//
//	import _ "github.com/cryptoplug/cryptoplug/backends/remote"
//
//	b, err := backend.Open(ctx, "remote:https://127.0.0.1:8443?session-source=file:/run/cp/token&ca-file=/etc/cp/server.crt")
//
// The URI is "remote:" followed by the server's base URL (https, or http to
// a loopback address only) and these query attributes:
//
//   - api-key-source, session-source or user-secret-source (at most one):
//     where the credential is read, a secret source as backend.ReadSecret
//     takes it: "file:/abs/path" (one trailing newline removed), "env:NAME",
//     or "sealed:/abs/path?by=…&key=…", a file sealed to a key in a TPM, an
//     HSM or another keystore (percent-encoded once more inside this URI;
//     backend.SealedSource.String and backend.URI.String do it). The
//     credential itself is never accepted in the URI. An API key grants one
//     role, so generating keys (keyManagement) and using them (keyOperation)
//     through one backend needs a session or user secret of a principal
//     holding both.
//   - client-cert, client-key and client-key-by (all three or none): a TLS
//     client certificate (a PEM file, leaf first) whose private key is the
//     key labelled client-key in the backend that the percent-encoded URI
//     client-key-by names (tpm:…, pkcs11:…), which signs each handshake and
//     never leaves its store; that backend stays open until Close. Without
//     a credential source the backend then authenticates by the certificate
//     alone (client.CertificateSession): it creates a session bound to the
//     certificate, keeps it in memory only, and creates another when the
//     server ends it, so no bearer credential exists on the client at all.
//     The server must trust the certificate's CA (client_ca) and pin it to
//     an application using the certificate method.
//   - ca-file: PEM certificates to trust for the server (default: the
//     system's roots).
//   - timeout: bound for calls made without a context (Sign, Decrypt,
//     Decapsulate), as a Go duration; default backend.DefaultTimeout.
//
// Capabilities are the server's, read once at Open. The backend implements
// backend.Importer over POST /v1/key/import; it claims OpImport for an
// algorithm only where the server's backend does.
// Server errors come back as the backend sentinels (ErrKeyNotFound,
// ErrInvalidInput, ErrUnsupported, rsa.ErrDecryption, …); a refused
// credential or role is ErrAuth. The rand argument of Sign and Decrypt is
// ignored: the server draws its own randomness.
//
// A sealed credential source and a client key in a TPM are both described,
// with the chain of secrets they rely on, in docs/sealing.md.
//
// Keys whose policy on the server needs a quorum of approvers
// (docs/approvals.md) work through the same interfaces: SignContext,
// DecryptContext, DecapsulateContext and DeleteKey then wait, within their
// context, until the request is approved and return its result. They poll
// the request's state (after 100 ms, then less often, up to every 2 s); a
// rejection returns an error matching autherr.ErrApprovalRejected, an
// expiry or cancellation one matching autherr.ErrTaskClosed, and a context
// that ends first cancels the request on the server before the error is
// returned (one that ends before the server's 202 arrives leaves the
// request to expire: its ID was never received). Sign, Decrypt and Decapsulate wait at most the URI's timeout:
// give a context for a longer wait.
package remote
