package configdoc

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wings-bff/wings/framework/config"
)

// TestReferenceRows checks rows of each kind: a plain key with its doc
// comment, a secret, a <name> entry with per-entry defaults, and a map of
// scalars.
func TestReferenceRows(t *testing.T) {
	t.Parallel()
	b, err := Generate(filepath.Join("..", "..", ".."), reflect.TypeOf(config.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `server.request_timeout` | duration | `3s` | `WINGS_SERVER__REQUEST_TIMEOUT` | `request_timeout` is the default deadline of every request. |",
		"| `redis.password` | secret | environment only | `WINGS_REDIS__PASSWORD` |",
		"| `upstreams.<name>.timeout` | duration | video: `800ms`, album: `800ms`, star: `500ms` | `WINGS_UPSTREAMS__<name>__TIMEOUT` |",
		"| `upstreams.<name>` | map | `video`, `album`, `star` |  |",
		"| `features.<name>` | bool |",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("reference lacks %q", want)
		}
	}
	if strings.Contains(string(b), "| `env` |") {
		t.Error("reference lists env, which is not a file key")
	}
}
