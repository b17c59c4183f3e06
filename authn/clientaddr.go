package authn

import (
	"net/http"
	"net/netip"
	"strings"
)

// remoteAddr is the default Config.ClientAddr: the peer's IP.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, _ := netip.ParseAddr(r.RemoteAddr)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

// maxForwardedHops bounds how much of X-Forwarded-For is read: a client can
// put anything to the left of what the proxies append.
const maxForwardedHops = 32

// ForwardedClientAddr returns a [Config.ClientAddr] for a server behind
// reverse proxies whose addresses are in trusted. A request from a peer
// outside trusted is counted against that peer, whatever headers it sends.
// A request from a trusted proxy is counted against the address the proxies
// saw: X-Forwarded-For read from the right, skipping trusted addresses, up
// to the first untrusted one. Every value left of that was written by the
// client and is ignored. A header that is missing, malformed where it
// matters, or longer than 32 hops leaves the proxy's own address. It is
// safe for concurrent use; trusted must not change afterwards.
func ForwardedClientAddr(trusted []netip.Prefix) func(*http.Request) netip.Addr {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) netip.Addr {
		peer := remoteAddr(r)
		if !peer.IsValid() || !isTrusted(peer) {
			return peer
		}
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
			if len(hops) > maxForwardedHops {
				return peer
			}
		}
		client := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				return client // a proxy we trust wrote garbage: stop at what we know
			}
			client = a.Unmap()
			if !isTrusted(client) {
				return client
			}
		}
		return client
	}
}
