package dao

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/wings-bff/wings/framework/upstream"
)

// StarDAO reads team C's stars API.
type StarDAO struct{ c *upstream.Client }

// NewStarDAO returns a dao over the "star" upstream client.
func NewStarDAO(c *upstream.Client) *StarDAO { return &StarDAO{c: c} }

type starResp struct {
	OK    bool              `json:"ok"`
	Items []json.RawMessage `json:"items"`
}

// StarsOfVideo returns team C's `items` for a video; ok=false is an
// upstream error.
func (d *StarDAO) StarsOfVideo(ctx context.Context, videoID int64) ([]json.RawMessage, error) {
	var r starResp
	q := url.Values{"video_id": {strconv.FormatInt(videoID, 10)}}
	if err := d.c.GetJSON(ctx, "/stars", q, &r); err != nil {
		return nil, err
	}
	if !r.OK {
		return nil, upstream.Schema(d.c.Name(), "/stars: ok=false")
	}
	return r.Items, nil
}
