package wings

import (
	"net"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzIPExtractor: whatever X-Forwarded-For says, a peer that is not a
// trusted proxy is the client; through a trusted peer the client is the
// peer or an address the header lists, never anything else.
func FuzzIPExtractor(f *testing.F) {
	for _, seed := range []struct {
		peer [4]byte
		xff  string
	}{
		{[4]byte{203, 0, 113, 5}, "1.2.3.4"},
		{[4]byte{10, 0, 0, 11}, "1.2.3.4, 198.51.100.7"},
		{[4]byte{10, 0, 0, 11}, "10.0.0.12, 10.0.0.13"},
		{[4]byte{10, 0, 0, 11}, "[::1], ::ffff:1.2.3.4"},
		{[4]byte{10, 0, 0, 11}, ",,not-an-ip"},
	} {
		f.Add(seed.peer[0], seed.peer[1], seed.peer[2], seed.peer[3], seed.xff)
	}
	_, trusted, _ := net.ParseCIDR("10.0.0.0/8")
	extract := ipExtractor([]*net.IPNet{trusted})
	f.Fuzz(func(t *testing.T, a, b, c, d byte, xff string) {
		peer := net.IPv4(a, b, c, d)
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = net.JoinHostPort(peer.String(), "4000")
		req.Header.Set("X-Forwarded-For", xff)
		got := extract(req)
		if !trusted.Contains(peer) {
			if got != peer.String() {
				t.Fatalf("untrusted peer %s, X-Forwarded-For %q: client %q; want the peer", peer, xff, got)
			}
			return
		}
		if got == peer.String() {
			return
		}
		gotIP := net.ParseIP(got)
		if gotIP == nil {
			t.Fatalf("peer %s, X-Forwarded-For %q: client %q is not an IP", peer, xff, got)
		}
		for _, e := range strings.Split(req.Header.Get("X-Forwarded-For"), ",") {
			e = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(e), "["), "]")
			if ip := net.ParseIP(e); ip != nil && ip.Equal(gotIP) {
				return
			}
		}
		t.Fatalf("peer %s, X-Forwarded-For %q: client %q is neither the peer nor listed", peer, xff, got)
	})
}
