package refserver

import (
	"errors"
	"net/http"
	"runtime"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

func (s *Server) health(rq *request) error {
	writeJSON(rq.w, http.StatusOK, wire.Health{Status: "ok"})
	return nil
}

// backendInfo describes the backend without its URI: even redacted, a URI
// names the server's files and devices, which no answer carries.
func backendInfo(b backend.Backend) wire.BackendInfo {
	i := b.Info()
	return wire.BackendInfo{Name: i.Name, Kind: i.Kind, Manufacturer: i.Manufacturer, Model: i.Model, Firmware: i.Firmware, Persistent: i.Persistent}
}

func (s *Server) versionInfo(rq *request) error {
	writeJSON(rq.w, http.StatusOK, wire.VersionInfo{Version: s.opts.Version, GoVersion: runtime.Version(), Backend: backendInfo(s.opts.Backend)})
	return nil
}

func (s *Server) capabilities(rq *request) error {
	out := wire.Capabilities{Backend: backendInfo(s.opts.Backend), Algorithms: map[string][]string{}}
	for a, ops := range s.opts.Backend.Capabilities() {
		if names := wire.OpsNames(ops); len(names) > 0 {
			out.Algorithms[a.String()] = names
		}
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

func (s *Server) statistics(rq *request) error {
	ctx, cancel := s.opContext(rq)
	defer cancel()
	keys, err := s.opts.Backend.Keys(ctx)
	out := wire.Statistics{ByAlgorithm: map[string]int{}, CachedKeys: s.keys.len(), UptimeSecs: int64(time.Since(s.started).Seconds())}
	if err != nil {
		if !errors.Is(err, backend.ErrCorrupt) {
			return err
		}
		out.Corrupt = 1
	}
	out.Keys = len(keys)
	for _, k := range keys {
		out.ByAlgorithm[k.Algorithm().String()]++
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}
