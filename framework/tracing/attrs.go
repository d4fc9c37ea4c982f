package tracing

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Attrs is a reusable list of a span's attributes, for the spans made on
// every request: the SDK copies what SetAttributes is given, so the list
// goes back to a pool once set instead of being garbage.
//
//	a := tracing.NewAttrs()
//	a.Add(attribute.String("k", v), ...)
//	a.SetOn(span) // a must not be used after
type Attrs struct {
	kv []attribute.KeyValue
}

var attrsPool = sync.Pool{New: func() any { return &Attrs{kv: make([]attribute.KeyValue, 0, 10)} }}

// NewAttrs returns an empty list from the pool.
func NewAttrs() *Attrs { return attrsPool.Get().(*Attrs) }

// Add appends kv.
func (a *Attrs) Add(kv ...attribute.KeyValue) { a.kv = append(a.kv, kv...) }

// SetOn sets the attributes on span in one call and returns the list to
// the pool.
func (a *Attrs) SetOn(span trace.Span) {
	span.SetAttributes(a.kv...)
	clear(a.kv) // drop the values' strings
	a.kv = a.kv[:0]
	attrsPool.Put(a)
}
