package wings

import (
	"net"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// netHTTPHeaderLimit is the http.Server's hard bound for a configured
// server.max_header_bytes of n: twice n, so a request line or header
// block between n and that bound still reaches requestSizeGuard and gets
// a JSON 414 or 431; beyond it net/http answers a plain-text 431 itself.
// 0 (a config built in code without it) keeps net/http's default.
func netHTTPHeaderLimit(n int) int {
	if n <= 0 {
		return 0
	}
	return 2 * n
}

// requestSizeGuard answers 414 when the request target alone exceeds
// limit bytes and 431 when the request line and headers together do.
func requestSizeGuard(limit int) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if limit <= 0 {
			return next
		}
		tooLong := "request URI longer than " + strconv.Itoa(limit) + " bytes"
		tooLarge := "request line and headers larger than " + strconv.Itoa(limit) + " bytes"
		return func(c echo.Context) error {
			r := c.Request()
			if len(r.RequestURI) > limit {
				return echo.NewHTTPError(http.StatusRequestURITooLong, tooLong)
			}
			if headerBytes(r) > limit {
				return echo.NewHTTPError(http.StatusRequestHeaderFieldsTooLarge, tooLarge)
			}
			return next(c)
		}
	}
}

// headerBytes is the size of r's request line and headers as sent on the
// wire (HTTP/1.1), which is what net/http's MaxHeaderBytes bounds.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 // spaces and CRLF
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	return n + 2
}

// ipExtractor is echo's RealIP for every request: the address in
// X-Forwarded-For nearest to us that is not a trusted proxy, believed only
// while each hop on the way is trusted; without a trusted peer, the peer's
// own address. Only the listed ranges are trusted (echo would also trust
// loopback, link-local and private addresses by default).
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
