package refserver

import (
	"context"
	"log/slog"
)

// auditRequest writes the request's audit record. The reason is the error's
// text: authn and backend errors name operations, principals, credential IDs
// and key labels, never a secret or key material.
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
	if rq.role != 0 {
		attrs = append(attrs, slog.String("role", rq.role.String()))
	}
	if rq.key != "" {
		attrs = append(attrs, slog.String("key", rq.key))
	}
	if err != nil {
		attrs = append(attrs, slog.String("reason", err.Error()))
	}
	s.audit.LogAttrs(context.Background(), level, "request", attrs...)
}
