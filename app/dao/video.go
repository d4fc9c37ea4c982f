// Package dao calls the upstream teams' HTTP APIs. Each dao checks its
// team's envelope (status codes inside 200 answers) and returns the payload;
// mapping it onto models is app/formatter's job.
package dao

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/upstream"
)

// Team A's status codes.
const (
	videoOK       = "A00000"
	videoNotFound = "A00004"
)

// VideoDAO reads team A's video info API.
type VideoDAO struct{ c *upstream.Client }

// NewVideoDAO returns a dao over the "video" upstream client.
func NewVideoDAO(c *upstream.Client) *VideoDAO { return &VideoDAO{c: c} }

type videoResp struct {
	Code string          `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data"`
}

// VideoInfo returns team A's `data` object for video id, undecoded: the
// formatter decodes only the members it maps. Code A00004 is a
// not_found error; any other code but A00000 is an upstream error.
func (d *VideoDAO) VideoInfo(ctx context.Context, id int64) (json.RawMessage, error) {
	var r videoResp
	q := url.Values{"id": {strconv.FormatInt(id, 10)}}
	if err := d.c.GetJSON(ctx, "/video/info", q, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Code == videoNotFound:
		return nil, apperr.NotFound("video %d not found", id)
	case r.Code != videoOK:
		return nil, upstream.Schema(d.c.Name(), "/video/info: code %q: %s", r.Code, r.Msg)
	case len(r.Data) == 0 || string(r.Data) == "null":
		return nil, upstream.Schema(d.c.Name(), "/video/info: no data")
	}
	return r.Data, nil
}
