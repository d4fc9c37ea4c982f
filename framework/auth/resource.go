package auth

import (
	"errors"
	"fmt"
	"strings"
)

// MaxParamLen bounds a path parameter used in a resource.
const MaxParamLen = 64

// ParseTemplate checks a route's resource template and returns the names
// of the path parameters it uses. A template is literal text with
// {param} placeholders: "bizline:{biz}". Literal text may not contain '*'
// (a route never asks for a wildcard) or whitespace; LoginOnly is valid and
// uses no parameter.
func ParseTemplate(tmpl string) ([]string, error) {
	if tmpl == LoginOnly {
		return nil, nil
	}
	if tmpl == "" {
		return nil, errors.New("empty resource template")
	}
	var params []string
	rest := tmpl
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			if err := checkLiteral(rest); err != nil {
				return nil, fmt.Errorf("resource template %q: %w", tmpl, err)
			}
			break
		}
		if rest[open] == '}' {
			return nil, fmt.Errorf("resource template %q: '}' without '{'", tmpl)
		}
		if err := checkLiteral(rest[:open]); err != nil {
			return nil, fmt.Errorf("resource template %q: %w", tmpl, err)
		}
		end := strings.IndexAny(rest[open+1:], "{}")
		if end < 0 || rest[open+1+end] != '}' {
			return nil, fmt.Errorf("resource template %q: unclosed '{'", tmpl)
		}
		name := rest[open+1 : open+1+end]
		if !validParamName(name) {
			return nil, fmt.Errorf("resource template %q: bad parameter name %q", tmpl, name)
		}
		params = append(params, name)
		rest = rest[open+1+end+1:]
	}
	return params, nil
}

// Expand fills tmpl's placeholders with path parameters. A value must be 1
// to MaxParamLen letters, digits, '_' or '-', so a request can never widen
// the resource it asks for ("*", "a:b"). The error names the parameter and
// is safe to show to the client.
func Expand(tmpl string, param func(name string) string) (string, error) {
	if tmpl == LoginOnly {
		return tmpl, nil
	}
	if _, err := ParseTemplate(tmpl); err != nil {
		return "", err
	}
	var b strings.Builder
	rest := tmpl
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:open])
		end := strings.IndexByte(rest[open:], '}') + open
		name := rest[open+1 : end]
		v := param(name)
		if !validParamValue(v) {
			return "", &ParamError{Name: name, Value: v}
		}
		b.WriteString(v)
		rest = rest[end+1:]
	}
}

// ParamError reports a path parameter that cannot name a resource.
type ParamError struct{ Name, Value string }

// Error names the parameter and the rule.
func (e *ParamError) Error() string {
	return fmt.Sprintf("%s: must be 1-%d letters, digits, '_' or '-'", e.Name, MaxParamLen)
}

// Match reports whether a grant covers resource: equal, or the grant ends
// in '*' and resource starts with what precedes it ("bizline:*" covers
// "bizline:music"; "*" covers everything).
func Match(grant, resource string) bool {
	if p, ok := strings.CutSuffix(grant, "*"); ok {
		return strings.HasPrefix(resource, p)
	}
	return grant == resource
}

func checkLiteral(s string) error {
	if strings.ContainsAny(s, "* \t\r\n") {
		return errors.New("literal text may not contain '*' or whitespace")
	}
	return nil
}

func validParamName(s string) bool {
	if s == "" || len(s) > MaxParamLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validParamValue(s string) bool {
	if s == "" || len(s) > MaxParamLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
