package refserver

import (
	"context"
	"log/slog"

	"github.com/cryptoplug/cryptoplug/authn"
)

// auditRequest writes the request's audit record. The reason is the error's
// text, for the operator: authn and backend errors name operations,
// principal and credential IDs, key labels, URIs and files, never a secret
// or key material. What a caller could have put there is kept out: quoted
// values in the reason (what errors echo of the request) are replaced,
// and anything shaped like a credential is redacted, in the reason and in
// the key label, so that a credential typed into the wrong field is not
// written down. The label is that of a key the caller was allowed to use or
// created: a name it chose, not an echo.
func (s *Server) auditRequest(rq *request, route string, status int, err error) {
	outcome, level := "ok", slog.LevelInfo
	switch {
	case status == 401 || status == 403 || status == 429:
		outcome, level = "denied", slog.LevelWarn
	case status >= 500:
		outcome, level = "error", slog.LevelError
	case err != nil:
		outcome = "error"
	}
	if !s.audit.Enabled(context.Background(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", rq.id),
		slog.String("route", route),
		slog.Int("status", status),
		slog.String("outcome", outcome),
	}
	if rq.principal.ID != "" {
		attrs = append(attrs, slog.String("principal", rq.principal.ID), slog.String("method", rq.principal.Method.String()))
	}
	if rq.principal.Subject != "" {
		// The subject a trusted issuer signed for: who a JWT (alone, or
		// beside an application's API key) says the caller is.
		attrs = append(attrs, slog.String("subject", authn.RedactTokens(rq.principal.Subject)))
	}
	if rq.role != 0 {
		attrs = append(attrs, slog.String("role", rq.role.String()))
	}
	if rq.key != "" {
		attrs = append(attrs, slog.String("key", authn.RedactTokens(rq.key)))
	}
	if err != nil {
		attrs = append(attrs, slog.String("reason", auditReason(err, rq.key)))
	}
	s.audit.LogAttrs(context.Background(), level, "request", attrs...)
}
