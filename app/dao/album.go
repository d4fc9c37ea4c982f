package dao

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/wings-bff/wings/framework/upstream"
)

// AlbumDAO reads team B's album API.
type AlbumDAO struct{ c *upstream.Client }

// NewAlbumDAO returns a dao over the "album" upstream client.
func NewAlbumDAO(c *upstream.Client) *AlbumDAO { return &AlbumDAO{c: c} }

type albumResp struct {
	Status *int            `json:"status"`
	Result json.RawMessage `json:"result"`
}

// Album returns team B's `result` object for album id; a status other than
// 0 is an upstream error.
func (d *AlbumDAO) Album(ctx context.Context, id int64) (json.RawMessage, error) {
	var r albumResp
	if err := d.c.GetJSON(ctx, "/album/"+strconv.FormatInt(id, 10), nil, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Status == nil:
		return nil, upstream.Schema(d.c.Name(), "/album: no status")
	case *r.Status != 0:
		return nil, upstream.Schema(d.c.Name(), "/album: status %d", *r.Status)
	case len(r.Result) == 0 || string(r.Result) == "null":
		return nil, upstream.Schema(d.c.Name(), "/album: no result")
	}
	return r.Result, nil
}
