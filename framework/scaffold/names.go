// Package scaffold generates the layers of a Wings endpoint (model, dao,
// formatter, service, controller and a controller test), registers them in
// app/app.go and app/router.go with syntax-tree guided edits, and lays out
// new projects. It depends on the standard library and yaml.v3 only, never
// on the framework, so it can generate code for any Wings project.
package scaffold

import (
	"fmt"
	"go/token"
	"regexp"
	"strings"
	"unicode"
)

// Name is a resource name in every form the layers need. The rule: the
// input (user_profile, userProfile or UserProfile) is split into words at
// underscores and at lower-to-upper case changes; the file stem joins the
// lower-cased words with "_" (user_profile.go), the exported form
// capitalizes each word (UserProfile, with Go initialisms such as ID, URL
// and API upper-cased), and the unexported form lower-cases the first word
// (userProfile).
type Name struct {
	Input    string // as given
	Stem     string // user_profile: file names, route names, URL paths
	Exported string // UserProfile: type names
	Lower    string // userProfile: variable names
}

var (
	identRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	// initialisms are upper-cased whole in exported and unexported names.
	initialisms = map[string]bool{"id": true, "url": true, "api": true, "http": true, "json": true,
		"ip": true, "uid": true, "uuid": true, "sql": true, "html": true, "uri": true, "dao": true, "sku": true}
	// fileSuffixes would make a file stem a build constraint (x_linux.go)
	// or a test file.
	fileSuffixes = []string{"test", "linux", "darwin", "windows", "freebsd", "netbsd", "openbsd", "android", "ios",
		"js", "wasm", "wasip1", "plan9", "solaris", "illumos", "aix", "dragonfly", "hurd", "zos",
		"amd64", "arm64", "arm", "386", "riscv64", "ppc64", "ppc64le", "s390x", "mips", "mipsle", "mips64", "mips64le", "loong64"}
)

// ParseName checks that s can name a resource in every layer and returns
// its forms. Keywords, non-identifiers and stems that Go would read as a
// build constraint or a test file are refused with the reason.
func ParseName(s string) (Name, error) {
	if !identRE.MatchString(s) {
		return Name{}, fmt.Errorf("name %q: must be an identifier of letters, digits and underscores starting with a letter", s)
	}
	if strings.Contains(s, "__") || strings.HasSuffix(s, "_") {
		return Name{}, fmt.Errorf("name %q: underscores only between words (user_profile)", s)
	}
	words := splitWords(s)
	n := Name{Input: s, Stem: strings.Join(words, "_")}
	for i, w := range words {
		up := capitalize(w)
		if initialisms[w] {
			up = strings.ToUpper(w)
		}
		n.Exported += up
		if i == 0 {
			n.Lower = w
		} else {
			n.Lower += up
		}
	}
	for _, form := range []string{s, n.Stem, n.Lower} {
		if token.IsKeyword(form) {
			return Name{}, fmt.Errorf("name %q: %q is a Go keyword", s, form)
		}
	}
	if last := words[len(words)-1]; len(words) > 1 && contains(fileSuffixes, last) {
		return Name{}, fmt.Errorf("name %q: file %s.go would be read as a test file or a build constraint (_%s)", s, n.Stem, last)
	}
	return n, nil
}

// splitWords splits at underscores and case changes: userProfile,
// UserProfile and user_profile give [user profile]; videoID gives
// [video id]; HTTPServer gives [http server].
func splitWords(s string) []string {
	var words []string
	for _, part := range strings.Split(s, "_") {
		rs := []rune(part)
		start := 0
		for i := 1; i < len(rs); i++ {
			lowerToUpper := unicode.IsUpper(rs[i]) && !unicode.IsUpper(rs[i-1])
			acronymEnd := unicode.IsUpper(rs[i]) && i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])
			if lowerToUpper || acronymEnd {
				words = append(words, strings.ToLower(string(rs[start:i])))
				start = i
			}
		}
		words = append(words, strings.ToLower(string(rs[start:])))
	}
	return words
}

func capitalize(w string) string {
	if w == "" {
		return w
	}
	return strings.ToUpper(w[:1]) + w[1:]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
