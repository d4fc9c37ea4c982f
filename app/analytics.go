package app

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Analytics configures the dashboards over ClickHouse.
type Analytics struct {
	// Timezone fixes hour and day boundaries (IANA name).
	Timezone string `mapstructure:"timezone"`
	// PrecomputeInterval is how often the home payloads are recomputed.
	PrecomputeInterval time.Duration `mapstructure:"precompute_interval"`
	// BusinessLines are the accepted values of :biz.
	BusinessLines []string `mapstructure:"business_lines"`
}

var bizRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Validate checks the analytics section, naming each bad key.
func (a *Analytics) Validate() error {
	var errs []error
	if _, err := time.LoadLocation(a.Timezone); err != nil || a.Timezone == "" || a.Timezone == "Local" {
		errs = append(errs, fmt.Errorf("analytics.timezone: must be an IANA time zone name, got %q", a.Timezone))
	} else if !tzRe.MatchString(a.Timezone) {
		errs = append(errs, fmt.Errorf("analytics.timezone: unexpected characters in %q", a.Timezone))
	}
	if a.PrecomputeInterval < time.Second {
		errs = append(errs, errors.New("analytics.precompute_interval: must be >= 1s"))
	}
	if len(a.BusinessLines) == 0 {
		errs = append(errs, errors.New("analytics.business_lines: must list at least one line"))
	}
	for _, b := range a.BusinessLines {
		if !bizRe.MatchString(b) {
			errs = append(errs, fmt.Errorf("analytics.business_lines: %q must match %s", b, bizRe))
		}
	}
	return errors.Join(errs...)
}

// tzRe keeps the zone name safe to embed in DDL (it is also a valid zone).
var tzRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$`)

// Validate checks the framework sections and the app's own.
func (c *Config) Validate() error {
	return errors.Join(c.Config.Validate(), c.Analytics.Validate())
}
