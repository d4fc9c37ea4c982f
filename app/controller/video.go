// Package controller parses requests, calls a service and answers through
// the framework's renderer. Controllers return errors; they never write
// error responses themselves.
package controller

import (
	"context"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/render"
	"github.com/wings-bff/wings/framework/wings"
)

// VideoDetailer is what VideoController needs from the video service.
type VideoDetailer interface {
	Detail(ctx context.Context, id int64) (*model.Video, render.Meta, error)
}

// VideoController serves /api/video.
type VideoController struct{ svc VideoDetailer }

// NewVideoController returns a controller over svc.
func NewVideoController(svc VideoDetailer) *VideoController { return &VideoController{svc: svc} }

// Get answers GET /api/video/:id.
func (ctl *VideoController) Get(c echo.Context) error {
	id, err := PositiveID(c.Param("id"))
	if err != nil {
		return err
	}
	v, meta, err := ctl.svc.Detail(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return wings.JSONMeta(c, v, meta)
}

// PositiveID parses a path id, or returns a bad_param error naming it.
func PositiveID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		if len(s) > 32 {
			s = s[:32] + "..."
		}
		return 0, apperr.BadParam("id: must be a positive integer, got %q", s)
	}
	return id, nil
}
