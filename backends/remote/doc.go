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
//   - api-key-source, session-source or user-secret-source (exactly one):
//     where the credential is read, "file:/abs/path" (one trailing newline
//     removed) or "env:NAME". The credential itself is never accepted in the
//     URI. An API key grants one role, so generating keys (keyManagement)
//     and using them (keyOperation) through one backend needs a session or
//     user secret of a principal holding both.
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
package remote
