package refserver_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/wire"
)

// A handler that panics (a bug here or in a backend) must answer the
// client with the fixed JSON 500 and keep serving, with no stack trace or
// panic message in the response or the audit log.
func TestHandlerPanicIsAJSON500(t *testing.T) {
	in := refservertest.Start(t, refservertest.Options{})
	var audit bytes.Buffer
	s, err := refserver.NewWithPanickingRoute(refserver.Options{Backend: in.Backend, Auth: in.Auth,
		Audit: slog.New(slog.NewJSONHandler(&audit, nil))}, "secret-looking panic message")
	require.NoError(t, err)

	for range 2 { // the server is still there for the next request
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
		require.Equal(t, http.StatusInternalServerError, rec.Code)
		var body wire.ErrorBody
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		require.Equal(t, "internal", body.Error.Code)
		require.NotContains(t, rec.Body.String(), "secret-looking")
		require.NotContains(t, rec.Body.String(), "goroutine")
	}
	require.Contains(t, audit.String(), "handler panicked")
	require.NotContains(t, audit.String(), "secret-looking")
}
