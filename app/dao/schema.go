package dao

import (
	"embed"

	"github.com/wings-bff/wings/framework/chclient"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// Migrations returns the ClickHouse migrations of the analytics schema
// (events, rollups and their materialized views) with hour and day buckets
// in the time zone tz. tz must be a valid IANA name (checked by config).
func Migrations(tz string) ([]chclient.Migration, error) {
	return chclient.LoadMigrations(schemaFS, "schema", map[string]string{"tz": tz})
}
