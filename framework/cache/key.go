package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/wings-bff/wings/framework/wings"
)

// maxKeyPart bounds each of a response key's two variable parts: the path,
// and what follows it (query, scope, vary). A longer part is replaced by
// hashMark and the hex SHA-256 of the part, so no key is longer than about
// 2*maxKeyPart bytes whatever the request carries.
const maxKeyPart = 256

// hashMark starts a hashed key part. It is unambiguous: a path starts with
// '/', and the rest with a query-escaped name, '#' or '|', and query
// escaping always escapes '!'.
const hashMark = '!'

// maxQueryParams is net/url's default bound on the pairs of a query:
// beyond it url.ParseQuery (so echo's c.QueryParam) reads no parameter at
// all.
const maxQueryParams = 10000

// queryNames is the sorted, deduplicated form of a route's declared query
// parameters (wings.Route.Query), the order in which they enter keys.
// wings.NeutralParams never enter a key: they never change the answer.
func queryNames(declared []string) []string {
	names := make([]string, 0, len(declared))
	for _, n := range declared {
		if n != "" && !wings.IsNeutralParam(n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// appendQuery appends the canonical query of raw over names: name=value
// pairs, query-escaped, in the order of names, where value is the first
// value of name exactly as url.ParseQuery (and so echo's c.QueryParam)
// reads it, and empty values (which c.QueryParam cannot tell from absent
// ones) are left out. Parameters not in names never reach it.
func appendQuery(b []byte, raw string, names []string) []byte {
	if raw == "" || len(names) == 0 || strings.Count(raw, "&") >= maxQueryParams {
		return b
	}
	var valBuf [8]string // most routes: no allocation
	var setBuf [8]bool
	var vals []string
	var set []bool
	if len(names) <= len(valBuf) {
		vals, set = valBuf[:len(names)], setBuf[:len(names)]
	} else {
		vals, set = make([]string, len(names)), make([]bool, len(names))
	}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue // url.ParseQuery skips a pair with a ';' anywhere in it
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			uk, err := url.QueryUnescape(k)
			if err != nil {
				continue
			}
			k = uk
		}
		i := slices.Index(names, k)
		if i < 0 || set[i] {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				continue // a bad value drops the pair: a later one is the first
			}
			v = uv
		}
		vals[i], set[i] = v, true
	}
	first := true
	for i, v := range vals {
		if v == "" {
			continue
		}
		if !first {
			b = append(b, '&')
		}
		first = false
		b = append(b, url.QueryEscape(names[i])...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(v)...)
	}
	return b
}

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// routeKey is a response's internal key and the canonical query the
// handler is given on a miss (see appendQuery):
//
//	"r:" + path + "?" + canonical query ["#" + scope] ["|" + vary]
//
// scope and vary query-escaped, and each of path and the part after "?"
// hashed when longer than maxKeyPart (see hashPart).
func routeKey(path, rawQuery string, names []string, scope, vary string) (key, query string) {
	bp := keyBufs.Get().(*[]byte)
	b := append((*bp)[:0], "r:"...)
	b = appendPath(b, path)
	b = append(b, '?')
	start := len(b)
	b = appendQuery(b, rawQuery, names)
	end := len(b)
	if scope != "" {
		b = append(b, '#')
		b = append(b, url.QueryEscape(scope)...)
	}
	if vary != "" {
		b = append(b, '|')
		b = append(b, url.QueryEscape(vary)...)
	}
	if len(b)-start > maxKeyPart {
		query = string(b[start:end])
		b = append(b[:start], hashPart(b[start:])...)
		key = string(b)
	} else {
		key = string(b)
		query = key[start:end]
	}
	*bp = b
	keyBufs.Put(bp)
	return key, query
}

// appendPath appends a request path as response keys hold it.
func appendPath(b []byte, path string) []byte {
	if len(path) > maxKeyPart {
		return append(b, hashPart([]byte(path))...)
	}
	return append(b, path...)
}

// hashPart is the stand-in of a key part longer than maxKeyPart.
func hashPart(p []byte) string {
	sum := sha256.Sum256(p)
	return string(hashMark) + hex.EncodeToString(sum[:])
}
