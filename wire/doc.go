// Package wire holds the wire format of the cryptoplug reference server
// (github.com/cryptoplug/cryptoplug/refserver): the JSON request and response
// bodies, the error codes, the credential header, and the encodings they
// share with its Go client (github.com/cryptoplug/cryptoplug/refserver/client).
//
// Most programs never import it directly: use the client, or the "remote"
// backend (github.com/cryptoplug/cryptoplug/backends/remote), which speak this
// format for you. It is exported so that tools and other clients can reuse the
// types rather than copy them. It depends on the backend contract only, never
// on the server's authentication (authn), so a client links none of it.
//
// Conventions: binary fields are standard base64 (padded), as encoding/json
// encodes []byte; a nil []byte is sent as null and means "absent", an empty one
// as "" and means "empty". Algorithms, hashes and roles use the names their Go
// types print (backend.Algorithm, crypto.Hash.String, authn.Role). Durations
// are whole seconds. Errors are an [ErrorBody].
package wire
