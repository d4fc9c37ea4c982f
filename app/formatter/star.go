package formatter

import (
	"encoding/json"

	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/mapping"
)

// StarFormatter maps team C's star items onto model.Star.
type StarFormatter struct{ m *mapping.Mapper[model.Star] }

// NewStarFormatter returns the team C mapping.
func NewStarFormatter() *StarFormatter {
	return &StarFormatter{m: mapping.New[model.Star](mapping.Fields{"id": "starId"})}
}

// Format maps team C's `items` list.
func (f *StarFormatter) Format(items []json.RawMessage) ([]model.Star, error) {
	return f.m.MapSliceJSON(items)
}
