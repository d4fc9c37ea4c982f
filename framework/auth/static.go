package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"sort"

	"github.com/wings-bff/wings/framework/config"
)

// StaticIdentity logs in the config users by their tokens (local
// development and tests only).
type StaticIdentity struct {
	users []staticUser
}

type staticUser struct {
	token string
	user  User
}

// NewStaticIdentity returns the static identity provider of cfg's users.
func NewStaticIdentity(cfg config.AuthStatic) *StaticIdentity {
	ids := make([]string, 0, len(cfg.Users))
	for id := range cfg.Users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	p := &StaticIdentity{}
	for _, id := range ids {
		u := cfg.Users[id]
		p.users = append(p.users, staticUser{token: u.Token, user: User{ID: id, Name: u.Name}})
	}
	return p
}

// Authenticate returns the user whose token is token, comparing in
// constant time.
func (p *StaticIdentity) Authenticate(_ context.Context, token string) (*User, error) {
	for _, su := range p.users {
		if su.token != "" && subtle.ConstantTimeCompare([]byte(su.token), []byte(token)) == 1 {
			u := su.user
			return &u, nil
		}
	}
	return nil, fmt.Errorf("%w: unknown token", ErrInvalidSession)
}

// StaticPermission answers from the config users' grants.
type StaticPermission struct {
	grants map[string][]string
}

// NewStaticPermission returns the static permission provider of cfg's
// users.
func NewStaticPermission(cfg config.AuthStatic) *StaticPermission {
	p := &StaticPermission{grants: map[string][]string{}}
	for id, u := range cfg.Users {
		p.grants[id] = append([]string(nil), u.Grants...)
	}
	return p
}

// Allowed reports whether one of u's grants matches resource.
func (p *StaticPermission) Allowed(_ context.Context, u *User, resource string) (bool, error) {
	for _, g := range p.grants[u.ID] {
		if Match(g, resource) {
			return true, nil
		}
	}
	return false, nil
}
