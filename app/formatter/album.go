package formatter

import (
	"encoding/json"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/mapping"
)

// AlbumFormatter maps team B's album result onto model.Album.
type AlbumFormatter struct{ m *mapping.Mapper[model.Album] }

// NewAlbumFormatter returns the team B mapping.
func NewAlbumFormatter() *AlbumFormatter {
	return &AlbumFormatter{m: mapping.New[model.Album](mapping.Fields{
		"id":       "album_id",
		"title":    "album_title",
		"episodes": "episode_total",
		"cover":    "cover.url",
	})}
}

// Format maps team B's `result` object.
func (f *AlbumFormatter) Format(raw json.RawMessage) (model.Album, error) { return f.m.MapJSON(raw) }
