// Package formatter maps each upstream team's schema onto the shared models,
// declaratively, with framework/mapping.
package formatter

import (
	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/mapping"
)

// VideoFormatter maps team A's video info onto model.Video.
type VideoFormatter struct{ m *mapping.Mapper[model.Video] }

// NewVideoFormatter returns the team A mapping.
func NewVideoFormatter() *VideoFormatter {
	return &VideoFormatter{m: mapping.New[model.Video](mapping.Fields{
		"id":        "qipuId",
		"title":     "videoName",
		"duration":  "duration", // "00:42:10" becomes 2530
		"cover":     "imageUrl",
		"playCount": "playCount",
	})}
}

// Format maps team A's `data` object and returns the video and the id of
// its album, which the album call needs.
func (f *VideoFormatter) Format(raw map[string]any) (model.Video, int64, error) {
	v, err := f.m.Map(raw)
	if err != nil {
		return v, 0, err
	}
	albumID, err := mapping.Int(raw, "albumId")
	return v, albumID, err
}
