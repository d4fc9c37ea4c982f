package wings

import (
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/config"
)

// RouteInfo is one route of the table as `wings routes` prints it: what
// is in force once config is applied, without starting anything.
type RouteInfo struct {
	Method, Path, Name string
	// Handler is the handler function's name: controller.(*VideoController).Get.
	Handler string
	// Timeout and CacheTTL are the route's ResolvePolicy: the deadline,
	// and the response cache TTL (zero: not cached).
	Timeout, CacheTTL time.Duration
	// Auth is the resource the route requires; empty means public.
	Auth string
	// Query is the route's declared query parameters (Route.Query).
	Query []string
	// Owner is the route's owning team and contact (Route.Owner).
	Owner Owner
}

// DescribeRoutes resolves each route's settings against cfg (ResolvePolicy). Handlers may
// be method values on nil controllers (app.Routes(&app.Container{})): only
// their names are read.
func DescribeRoutes(cfg *config.Config, routes []Route) []RouteInfo {
	out := make([]RouteInfo, 0, len(routes))
	for _, r := range routes {
		p := ResolvePolicy(r, cfg)
		out = append(out, RouteInfo{
			Method: r.Method, Path: r.Path, Name: p.Name, Handler: handlerName(r.Handler),
			Timeout: p.Timeout, CacheTTL: p.CacheTTL, Auth: r.Auth, Query: r.Query, Owner: r.Owner,
		})
	}
	return out
}

// WriteRouteTable prints routes as an aligned table: method, path, name,
// handler, timeout, cache TTL ("-" when not cached), auth ("public" when
// none is required), the declared query parameters ("-" when none) and the
// owner (team:contact, "unowned" when none is declared).
func WriteRouteTable(w io.Writer, routes []RouteInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tPATH\tNAME\tHANDLER\tTIMEOUT\tCACHE\tAUTH\tQUERY\tOWNER")
	for _, r := range routes {
		cache, auth, query := "-", r.Auth, strings.Join(r.Query, ",")
		if r.CacheTTL > 0 {
			cache = r.CacheTTL.String()
		}
		if auth == "" {
			auth = "public"
		}
		if query == "" {
			query = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Method, r.Path, r.Name, r.Handler, r.Timeout, cache, auth, query, r.Owner)
	}
	return tw.Flush()
}

// handlerName is the function's name without its module path and the
// "-fm" of method values.
func handlerName(h echo.HandlerFunc) string {
	if h == nil {
		return "-"
	}
	fn := runtime.FuncForPC(reflect.ValueOf(h).Pointer())
	if fn == nil {
		return "?"
	}
	name := strings.TrimSuffix(fn.Name(), "-fm")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return name
}
