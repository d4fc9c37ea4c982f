package config

import (
	"strings"
	"testing"
)

// TestResilienceKeys: the resilience defaults load, and every bad value is
// reported naming its key.
func TestResilienceKeys(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
	c, _, err := load(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	star := c.Upstreams["star"]
	if star.Retries != 1 || !star.Coalesce || star.Breaker.FailureRatio != 0.5 || star.Breaker.MinRequests != 20 {
		t.Errorf("star defaults = %+v", star)
	}
	_, _, err = load(t, dir,
		"WINGS_UPSTREAMS__STAR__RETRIES=11",
		"WINGS_UPSTREAMS__STAR__BREAKER__FAILURE_RATIO=1.5",
		"WINGS_UPSTREAMS__ALBUM__BREAKER__MIN_REQUESTS=0",
		"WINGS_UPSTREAMS__ALBUM__BREAKER__OPEN_TIMEOUT=0s",
		"WINGS_UPSTREAMS__VIDEO__RETRY_BACKOFF=0s",
		"WINGS_SERVER__MAX_IN_FLIGHT=-1",
		"WINGS_ROUTES__VIDEO_DETAIL__MAX_IN_FLIGHT=-2",
		"WINGS_ROUTES__VIDEO_DETAIL__RATE_LIMIT__RPS=-1",
	)
	if err == nil {
		t.Fatal("Load succeeded; want validation errors")
	}
	for _, want := range []string{
		"upstreams.star.retries: must be between 0 and 10, got 11",
		"upstreams.star.breaker.failure_ratio: must be between 0 (off) and 1, got 1.5",
		"upstreams.album.breaker.min_requests: must be > 0",
		"upstreams.album.breaker.open_timeout: must be > 0",
		"upstreams.video.retry_backoff: must be > 0 when retries > 0",
		"server.max_in_flight: must be >= 0",
		"routes.video_detail.max_in_flight: must be >= 0",
		"routes.video_detail.rate_limit.rps: must be >= 0",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to contain %q", err, want)
		}
	}
	// failure_ratio 0 turns the breaker off: its other keys are not needed.
	if _, _, err := load(t, dir, "WINGS_UPSTREAMS__STAR__BREAKER__FAILURE_RATIO=0", "WINGS_UPSTREAMS__STAR__BREAKER__MIN_REQUESTS=0"); err != nil {
		t.Errorf("breaker off: %v", err)
	}
}
