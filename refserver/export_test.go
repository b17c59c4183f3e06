package refserver

import "net/http"

// NewWithPanickingRoute builds a server whose only route, GET /boom,
// panics with msg: for the test that a handler's panic becomes a JSON 500.
func NewWithPanickingRoute(opts Options, msg string) (*Server, error) {
	return newServer(opts, []Route{{Method: http.MethodGet, Path: "/boom", Public: true, Summary: "panics",
		handle: func(*Server, *request) error { panic(msg) }}})
}
