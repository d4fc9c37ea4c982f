package model

import "time"

// EventColumns is a batch of raw events in columnar form, in the order of
// the events table's data contract.
type EventColumns struct {
	Time     []time.Time
	Line     []string
	Event    []string
	User     []uint64
	Item     []string
	Platform []string
	Region   []string
	Value    []float64
}

// Len returns the number of events in the batch.
func (c *EventColumns) Len() int { return len(c.Time) }

// Reset empties the batch, keeping its storage.
func (c *EventColumns) Reset() {
	c.Time, c.Line, c.Event, c.User = c.Time[:0], c.Line[:0], c.Event[:0], c.User[:0]
	c.Item, c.Platform, c.Region, c.Value = c.Item[:0], c.Platform[:0], c.Region[:0], c.Value[:0]
}

// Add appends one event.
func (c *EventColumns) Add(t time.Time, line, event string, user uint64, item, platform, region string, value float64) {
	c.Time = append(c.Time, t)
	c.Line = append(c.Line, line)
	c.Event = append(c.Event, event)
	c.User = append(c.User, user)
	c.Item = append(c.Item, item)
	c.Platform = append(c.Platform, platform)
	c.Region = append(c.Region, region)
	c.Value = append(c.Value, value)
}
