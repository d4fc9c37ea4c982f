// Package static serves a read-only file tree (usually an embed.FS) with
// the caching a built front end needs:
//
//   - fingerprinted files, whose name carries a content hash
//     (dash-CVBZC7NC.js), never change under that name: they are cached for
//     a year as immutable;
//   - every other file (the pages that point at them) is "no-cache": the
//     browser revalidates it each time with its ETag and gets a 304 when it
//     is unchanged.
//
// Compression is left to the server's gzip middleware.
package static

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
)

// Cache-Control values.
const (
	CacheImmutable  = "public, max-age=31536000, immutable"
	CacheRevalidate = "no-cache"
)

// fingerprint matches the names esbuild gives with entryNames
// "[name]-[hash]": a dash and eight base32 characters before the extension.
var fingerprint = regexp.MustCompile(`-[A-Z2-7]{8}\.[a-z0-9]+$`)

// Fingerprinted reports whether name carries a content hash.
func Fingerprinted(name string) bool { return fingerprint.MatchString(name) }

// Files is a file tree loaded in memory with each file's ETag.
type Files struct {
	files map[string]file
}

type file struct {
	body  []byte
	etag  string
	ctype string
	cache string
}

// ErrNotFound is returned by Serve for a name the tree does not hold.
var ErrNotFound = errors.New("static: file not found")

// New reads every file of fsys.
func New(fsys fs.FS) (*Files, error) {
	f := &Files{files: map[string]file{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = http.DetectContentType(b)
		}
		cache := CacheRevalidate
		if Fingerprinted(name) {
			cache = CacheImmutable
		}
		f.files[name] = file{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: ctype, cache: cache}
		return nil
	})
	return f, err
}

// Has reports whether the tree holds name.
func (f *Files) Has(name string) bool {
	_, ok := f.files[name]
	return ok
}

// Bytes returns the content of name, or nil.
func (f *Files) Bytes(name string) []byte { return f.files[name].body }

// Serve writes name (a slash-separated path inside the tree, without a
// leading slash) to w, or a 304 when the request's If-None-Match has its
// ETag; it returns ErrNotFound (writing nothing) for an unknown name.
func (f *Files) Serve(w http.ResponseWriter, r *http.Request, name string) error {
	fl, ok := f.files[strings.TrimPrefix(name, "/")]
	if !ok {
		return ErrNotFound
	}
	h := w.Header()
	h.Set("Cache-Control", fl.cache)
	h.Set("ETag", fl.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, fl.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", fl.ctype)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, err := w.Write(fl.body)
		return err
	}
	return nil
}
