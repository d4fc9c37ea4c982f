package cache

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// handlerReads is what a handler reading names with echo's c.QueryParam
// sees of raw: url.ParseQuery's first value of each name.
func handlerReads(raw string, names []string) []string {
	q, _ := url.ParseQuery(raw) // as (*url.URL).Query: errors dropped
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = q.Get(n)
	}
	return out
}

func TestRouteKey(t *testing.T) {
	t.Parallel()
	names := queryNames([]string{"event", "from", "callback", "a b", "_", "event", "", "fields", "_callback"})
	if want := []string{"a b", "event", "from"}; !slices.Equal(names, want) {
		t.Fatalf("queryNames = %q; want %q", names, want)
	}
	long := strings.Repeat("x", 300)
	tests := []struct {
		name, path, raw, scope, vary string
		key, query                   string
	}{
		{"no query", "/v/42", "", "", "", "r:/v/42?", ""},
		{"undeclared parameters never reach the key", "/v/42", "x=123&_=1&callback=cb&fields=id&utm_source=z", "", "", "r:/v/42?", ""},
		{"declared ones do, in name order", "/v/42", "from=2026-01-02&x=1&event=view", "", "", "r:/v/42?event=view&from=2026-01-02", "event=view&from=2026-01-02"},
		{"the first value, as c.QueryParam", "/v/42", "event=order&event=view", "", "", "r:/v/42?event=order", "event=order"},
		{"the first value, the other order", "/v/42", "event=view&event=order", "", "", "r:/v/42?event=view", "event=view"},
		{"empty reads as absent", "/v/42", "event=&from", "", "", "r:/v/42?", ""},
		{"an empty first value wins", "/v/42", "event=&event=view", "", "", "r:/v/42?", ""},
		{"escapes decoded and re-encoded", "/v/42", "a+b=1%202&event=%76iew", "", "", "r:/v/42?a+b=1+2&event=view", "a+b=1+2&event=view"},
		{"a pair with ';' is skipped", "/v/42", "event=a;b&event=view", "", "", "r:/v/42?event=view", "event=view"},
		{"a bad escape is skipped", "/v/42", "event=%zz&event=view", "", "", "r:/v/42?event=view", "event=view"},
		{"scope and vary", "/v/42", "event=view", "bizline:x", "zh|en", "r:/v/42?event=view#bizline%3Ax|zh%7Cen", "event=view"},
		{"a long path is hashed", "/v/" + long, "", "", "", "r:" + hashPart([]byte("/v/"+long)) + "?", ""},
		{"a long query is hashed", "/v/42", "event=" + long, "", "", "r:/v/42?" + hashPart([]byte("event="+long)), "event=" + long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, query := routeKey(tc.path, tc.raw, names, tc.scope, tc.vary)
			if key != tc.key || query != tc.query {
				t.Errorf("routeKey = %q, %q; want %q, %q", key, query, tc.key, tc.query)
			}
			if got, want := handlerReads(query, names), handlerReads(tc.raw, names); !slices.Equal(got, want) {
				t.Errorf("the handler reads %q from the canonical query; %q from the request", got, want)
			}
		})
	}
}

// TestRouteKeyTooManyParams: beyond net/url's bound on pairs, c.QueryParam
// reads nothing, and neither does the key.
func TestRouteKeyTooManyParams(t *testing.T) {
	t.Parallel()
	names := []string{"event"}
	raw := "event=view" + strings.Repeat("&x=1", maxQueryParams)
	if got := handlerReads(raw, names); got[0] != "" {
		t.Fatalf("url.ParseQuery read %q past its bound; the model is out of date", got[0])
	}
	if key, _ := routeKey("/v/1", raw, names, "", ""); key != "r:/v/1?" {
		t.Errorf("key = %.40q... (%d bytes); want r:/v/1?", key, len(key))
	}
	raw = "event=view" + strings.Repeat("&x=1", maxQueryParams-1)
	if key, _ := routeKey("/v/1", raw, names, "", ""); key != "r:/v/1?event=view" {
		t.Errorf("at the bound: key = %.40q... (%d bytes); want r:/v/1?event=view", key, len(key))
	}
}

// TestPurgeKeyOfALongPath: an exact purge reaches a path whose key part is
// hashed.
func TestPurgeKeyOfALongPath(t *testing.T) {
	t.Parallel()
	path := "/v/" + strings.Repeat("y", 400)
	key, _ := routeKey(path, "", nil, "", "")
	ikey, prefix, err := purgeKey(path)
	if err != nil || !prefix || !strings.HasPrefix(key, ikey) {
		t.Errorf("purgeKey(%q...) = %q, %v, %v; want a prefix of %q", path[:10], ikey, prefix, err, key)
	}
}

// FuzzCacheKey: two requests a handler reading the declared parameters
// reads alike share a key, and two it reads differently never do; the
// handler, given the canonical query, reads what the request carried; and
// the key stays bounded.
func FuzzCacheKey(f *testing.F) {
	seeds := [][4]string{
		{"/v/42", "event=order&event=view", "/v/42", "event=view&event=order"},
		{"/v/42", "x=1", "/v/42", "x=2&_=3&callback=cb"},
		{"/v/42", "event=", "/v/42", ""},
		{"/v/42", "event=view&from=2026-01-01", "/v/42", "from=2026-01-01&event=view"},
		{"/v/42", "a+b=%20&a%20b=x", "/v/42", "a b=+"},
		{"/v/42", "event=a;b&event=c", "/v/42", "event=c"},
		{"/v/42", "event=%zz&event=v", "/v/42", "event=v"},
		{"/v/42", "from=1&from=2", "/v/43", "from=1"},
		{"/v/4?2", "", "/v/4", "2"},
		{"/v/42", "event=" + strings.Repeat("z", 300), "/v/42", "event=" + strings.Repeat("z", 299)},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3])
	}
	names := queryNames([]string{"event", "from", "a b"})
	f.Fuzz(func(t *testing.T, path1, raw1, path2, raw2 string) {
		if !strings.HasPrefix(path1, "/") || !strings.HasPrefix(path2, "/") {
			return // echo routes only paths
		}
		k1, q1 := routeKey(path1, raw1, names, "", "")
		k2, q2 := routeKey(path2, raw2, names, "", "")
		r1, r2 := handlerReads(raw1, names), handlerReads(raw2, names)
		alike := path1 == path2 && slices.Equal(r1, r2)
		if alike != (k1 == k2) {
			t.Errorf("read alike %v, same key %v:\n%q %q -> %q %q\n%q %q -> %q %q",
				alike, k1 == k2, path1, raw1, r1, k1, path2, raw2, r2, k2)
		}
		if got := handlerReads(q1, names); !slices.Equal(got, r1) {
			t.Errorf("canonical query %q reads %q; the request %q reads %q", q1, got, raw1, r1)
		}
		if q1 != q2 && slices.Equal(r1, r2) {
			t.Errorf("one reading, two canonical queries: %q %q", q1, q2)
		}
		if n := len(k1); n > len("r:")+maxKeyPart+len("?")+maxKeyPart {
			t.Errorf("key of %d bytes", n)
		}
	})
}
