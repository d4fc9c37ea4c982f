package controller

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/auth"
	"github.com/wings-bff/wings/framework/render"
	"github.com/wings-bff/wings/framework/wings"
)

// Permissions is what MeController needs from the auth layer (a
// *auth.Auth).
type Permissions interface {
	// Authorize returns nil when u may act on resource, a forbidden error
	// when not, another error when it cannot tell now.
	Authorize(ctx context.Context, u *auth.User, resource string) error
}

// Me is the caller as the front end sees it: who, and the business lines
// whose dashboards they may open.
type Me struct {
	ID    string   `json:"id"`
	Name  string   `json:"name,omitempty"`
	Lines []string `json:"lines"`
}

// MeController serves /api/me.
type MeController struct {
	perm  Permissions
	lines []string
}

// NewMeController returns a controller that offers the business lines in
// lines (in that order) that the caller may see.
func NewMeController(perm Permissions, lines []string) *MeController {
	return &MeController{perm: perm, lines: append([]string(nil), lines...)}
}

// Get serves GET /api/me: {"id","name","lines":["video",...]}. A line
// whose permission cannot be checked now is left out and the envelope
// lists "lines" as degraded.
func (ctl *MeController) Get(c echo.Context) error {
	u := wings.CurrentUser(c)
	if u == nil {
		return apperr.Unauthorized("login required")
	}
	out := Me{ID: u.ID, Name: u.Name, Lines: []string{}}
	ctx := c.Request().Context()
	var meta render.Meta
	for _, l := range ctl.lines {
		err := ctl.perm.Authorize(ctx, u, "bizline:"+l)
		switch {
		case err == nil:
			out.Lines = append(out.Lines, l)
		case apperr.KindOf(err) == apperr.KindForbidden:
		default:
			// The permission service cannot answer now: the caller is still
			// known, the line is left out and the answer says so.
			meta.Degraded = []string{"lines"}
		}
	}
	return wings.JSONMeta(c, out, meta)
}
