package dao

import (
	"testing"

	"github.com/wings-bff/wings/app/model"
)

func TestSpanVariantSQL(t *testing.T) {
	v := spanVariant{table: TableDimsDay, platform: true, region: true}
	if got := v.keyExpr(); got != "business_line, '', platform, region" {
		t.Errorf("keyExpr = %q", got)
	}
	if got := v.groupBy(); got != "business_line, platform, region" {
		t.Errorf("groupBy = %q", got)
	}
	if n := len(spanVariants()); n != 8 {
		t.Errorf("%d span variants; want 8 (two per rollup with an event and an event-less key, one per event-less rollup)", n)
	}
	// Every key shape Route picks for a day query with UV has a variant.
	seen := map[string]bool{}
	for _, v := range spanVariants() {
		seen[v.table+"/"+v.groupBy()] = true
	}
	for _, f := range []model.Filters{{}, {Event: "view"}, {Platform: "ios"}, {Platform: "ios", Event: "view"}, {Region: "r"}, {Region: "r", Event: "view"},
		{Platform: "ios", Region: "r"}, {Platform: "ios", Region: "r", Event: "view"}} {
		v := spanVariant{table: Route("day", f), event: f.Event != "", platform: f.Platform != "", region: f.Region != ""}
		if !seen[v.table+"/"+v.groupBy()] {
			t.Errorf("filters %+v route to %s keyed by %s: no span variant", f, v.table, v.groupBy())
		}
	}
}
