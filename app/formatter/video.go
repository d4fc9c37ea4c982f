// Package formatter maps each upstream team's schema onto the shared models,
// declaratively, with framework/mapping.
package formatter

import (
	"encoding/json"

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
		"album":     "-", // composed by the service from team B, never read from team A
		"stars":     "-", // composed by the service from team C
	})}
}

// Format maps team A's `data` object and returns the video and the id of
// its album, which the album call needs. Only the mapped members and
// albumId are decoded, in one scan of raw.
func (f *VideoFormatter) Format(raw json.RawMessage) (model.Video, int64, error) {
	return f.m.MapJSONInt(raw, "albumId")
}
