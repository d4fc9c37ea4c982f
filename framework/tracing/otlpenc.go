package tracing

import (
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// This file writes an OTLP ExportTraceServiceRequest
// (opentelemetry/proto/collector/trace/v1) straight from the SDK's span
// snapshots into one byte slice. The SDK's exporter first builds the
// request as generated protobuf structs (several objects per span and three
// per attribute) and then marshals them by reflection: at 100% sampling
// that was the largest part of what tracing cost a request
// (docs/benchmarks.md, "Tracing cost"). The output is the same message:
// TestEncodeMatchesSDK decodes both and compares them field by field.

// Field numbers of the OTLP messages written here (opentelemetry-proto
// v1: collector/trace, trace, common, resource).
const (
	fReqResourceSpans = 1 // ExportTraceServiceRequest

	fRSResource   = 1 // ResourceSpans
	fRSScopeSpans = 2
	fRSSchemaURL  = 3

	fResAttributes = 1 // Resource

	fSSScope     = 1 // ScopeSpans
	fSSSpans     = 2
	fSSSchemaURL = 3

	fScopeName       = 1 // InstrumentationScope
	fScopeVersion    = 2
	fScopeAttributes = 3

	fSpanTraceID       = 1 // Span
	fSpanSpanID        = 2
	fSpanTraceState    = 3
	fSpanParentSpanID  = 4
	fSpanName          = 5
	fSpanKind          = 6
	fSpanStart         = 7
	fSpanEnd           = 8
	fSpanAttributes    = 9
	fSpanDroppedAttrs  = 10
	fSpanEvents        = 11
	fSpanDroppedEvents = 12
	fSpanLinks         = 13
	fSpanDroppedLinks  = 14
	fSpanStatus        = 15
	fSpanFlags         = 16

	fEventTime         = 1 // Span.Event
	fEventName         = 2
	fEventAttributes   = 3
	fEventDroppedAttrs = 4

	fLinkTraceID      = 1 // Span.Link
	fLinkSpanID       = 2
	fLinkAttributes   = 4
	fLinkDroppedAttrs = 5
	fLinkFlags        = 6

	fStatusMessage = 2 // Status
	fStatusCode    = 3

	fKVKey   = 1 // KeyValue
	fKVValue = 2

	fAnyString = 1 // AnyValue
	fAnyBool   = 2
	fAnyInt    = 3
	fAnyDouble = 4
	fAnyArray  = 5
	fAnyKVList = 6
	fAnyBytes  = 7

	fListValues = 1 // ArrayValue, KeyValueList

	// SpanFlags: the low 8 bits are the W3C trace flags.
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// encoder appends protobuf to b. A nested message is written in place
// after its tag and a one-byte length, which close fills in when the
// message ends: most messages (attributes, values, statuses) are shorter
// than 128 bytes, so their length fits that byte and nothing moves; a
// longer one is moved up by the bytes its length needs beyond it.
type encoder struct {
	b []byte
}

// open starts a length-delimited field; close(open(...)) ends it.
func (e *encoder) open(f protowire.Number) int {
	e.b = protowire.AppendTag(e.b, f, protowire.BytesType)
	e.b = append(e.b, 0) // the length, when it fits one byte
	return len(e.b)
}

// close writes the length of the message started at start in front of it.
func (e *encoder) close(start int) {
	n := len(e.b) - start
	if n < 0x80 {
		e.b[start-1] = byte(n)
		return
	}
	k := protowire.SizeVarint(uint64(n))
	for range k - 1 {
		e.b = append(e.b, 0)
	}
	copy(e.b[start+k-1:], e.b[start:start+n])
	protowire.AppendVarint(e.b[:start-1], uint64(n))
}

func (e *encoder) str(f protowire.Number, s string) {
	if s == "" {
		return
	}
	e.b = protowire.AppendTag(e.b, f, protowire.BytesType)
	e.b = protowire.AppendString(e.b, s)
}

func (e *encoder) bytes(f protowire.Number, v []byte) {
	if len(v) == 0 {
		return
	}
	e.b = protowire.AppendTag(e.b, f, protowire.BytesType)
	e.b = protowire.AppendBytes(e.b, v)
}

func (e *encoder) uvarint(f protowire.Number, v uint64) {
	if v == 0 {
		return
	}
	e.b = protowire.AppendTag(e.b, f, protowire.VarintType)
	e.b = protowire.AppendVarint(e.b, v)
}

func (e *encoder) fixed64(f protowire.Number, v uint64) {
	if v == 0 {
		return
	}
	e.b = protowire.AppendTag(e.b, f, protowire.Fixed64Type)
	e.b = protowire.AppendFixed64(e.b, v)
}

func (e *encoder) fixed32(f protowire.Number, v uint32) {
	if v == 0 {
		return
	}
	e.b = protowire.AppendTag(e.b, f, protowire.Fixed32Type)
	e.b = protowire.AppendFixed32(e.b, v)
}

// spanGroup is the spans of one resource and instrumentation scope, in
// the order they came.
type spanGroup struct {
	res   *resource.Resource
	scope instrumentation.Scope
	spans []sdktrace.ReadOnlySpan
}

// grouper sorts a batch into spanGroups; its slices are kept between
// batches.
type grouper struct {
	groups []spanGroup
}

func (g *grouper) group(spans []sdktrace.ReadOnlySpan) []spanGroup {
	for i := range g.groups {
		clear(g.groups[i].spans)
		g.groups[i].spans = g.groups[i].spans[:0]
	}
	n := 0
next:
	for _, s := range spans {
		if s == nil {
			continue
		}
		res, scope := s.Resource(), s.InstrumentationScope()
		for i := range n {
			gr := &g.groups[i]
			if gr.scope == scope && sameResource(gr.res, res) {
				gr.spans = append(gr.spans, s)
				continue next
			}
		}
		if n == len(g.groups) {
			g.groups = append(g.groups, spanGroup{})
		}
		g.groups[n].res, g.groups[n].scope = res, scope
		g.groups[n].spans = append(g.groups[n].spans, s)
		n++
	}
	for i := n; i < len(g.groups); i++ {
		g.groups[i].res = nil
	}
	return g.groups[:n]
}

func sameResource(a, b *resource.Resource) bool {
	return a == b || a.Equivalent() == b.Equivalent()
}

// appendRequest appends the ExportTraceServiceRequest of groups to b:
// one ResourceSpans per resource (in the order first seen), one ScopeSpans
// per scope in it.
func appendRequest(b []byte, groups []spanGroup) []byte {
	e := encoder{b: b}
	for i := range groups {
		res := groups[i].res
		if i > 0 && sameResourceBefore(groups, i) {
			continue // written with the first group of this resource
		}
		rs := e.open(fReqResourceSpans)
		if res != nil {
			r := e.open(fRSResource)
			iter := res.Iter()
			for iter.Next() {
				e.keyValue(fResAttributes, iter.Attribute())
			}
			e.close(r)
		}
		for j := i; j < len(groups); j++ {
			if j == i || sameResource(groups[j].res, res) {
				e.scopeSpans(&groups[j])
			}
		}
		if res != nil {
			e.str(fRSSchemaURL, res.SchemaURL())
		}
		e.close(rs)
	}
	return e.b
}

func sameResourceBefore(groups []spanGroup, i int) bool {
	for j := range i {
		if sameResource(groups[j].res, groups[i].res) {
			return true
		}
	}
	return false
}

func (e *encoder) scopeSpans(g *spanGroup) {
	ss := e.open(fRSScopeSpans)
	if g.scope != (instrumentation.Scope{}) {
		sc := e.open(fSSScope)
		e.str(fScopeName, g.scope.Name)
		e.str(fScopeVersion, g.scope.Version)
		iter := g.scope.Attributes.Iter()
		for iter.Next() {
			e.keyValue(fScopeAttributes, iter.Attribute())
		}
		e.close(sc)
	}
	for _, s := range g.spans {
		e.span(s)
	}
	e.str(fSSSchemaURL, g.scope.SchemaURL)
	e.close(ss)
}

func (e *encoder) span(s sdktrace.ReadOnlySpan) {
	m := e.open(fSSSpans)
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	e.bytes(fSpanTraceID, tid[:])
	e.bytes(fSpanSpanID, sid[:])
	if ts := sc.TraceState(); ts.Len() > 0 {
		e.str(fSpanTraceState, ts.String())
	}
	parent := s.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		e.bytes(fSpanParentSpanID, psid[:])
	}
	e.str(fSpanName, s.Name())
	e.uvarint(fSpanKind, uint64(spanKind(s.SpanKind())))
	e.fixed64(fSpanStart, unixNano(s.StartTime().UnixNano()))
	e.fixed64(fSpanEnd, unixNano(s.EndTime().UnixNano()))
	for _, kv := range s.Attributes() {
		e.keyValue(fSpanAttributes, kv)
	}
	e.uvarint(fSpanDroppedAttrs, clamp32(s.DroppedAttributes()))
	for _, ev := range s.Events() {
		m := e.open(fSpanEvents)
		e.fixed64(fEventTime, unixNano(ev.Time.UnixNano()))
		e.str(fEventName, ev.Name)
		for _, kv := range ev.Attributes {
			e.keyValue(fEventAttributes, kv)
		}
		e.uvarint(fEventDroppedAttrs, clamp32(ev.DroppedAttributeCount))
		e.close(m)
	}
	e.uvarint(fSpanDroppedEvents, clamp32(s.DroppedEvents()))
	for _, l := range s.Links() {
		m := e.open(fSpanLinks)
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		e.bytes(fLinkTraceID, ltid[:])
		e.bytes(fLinkSpanID, lsid[:])
		for _, kv := range l.Attributes {
			e.keyValue(fLinkAttributes, kv)
		}
		e.uvarint(fLinkDroppedAttrs, clamp32(l.DroppedAttributeCount))
		e.fixed32(fLinkFlags, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext))
		e.close(m)
	}
	e.uvarint(fSpanDroppedLinks, clamp32(s.DroppedLinks()))
	st := e.open(fSpanStatus) // always present, as the SDK's exporter writes it
	status := s.Status()
	e.str(fStatusMessage, status.Description)
	e.uvarint(fStatusCode, statusCode(status.Code))
	e.close(st)
	e.fixed32(fSpanFlags, spanFlags(sc.TraceFlags(), parent))
	e.close(m)
}

// keyValue writes kv as a KeyValue in field f.
func (e *encoder) keyValue(f protowire.Number, kv attribute.KeyValue) {
	m := e.open(f)
	e.str(fKVKey, string(kv.Key))
	e.anyValue(fKVValue, kv.Value)
	e.close(m)
}

// anyValue writes v as an AnyValue in field f. A oneof member is written
// even when it is its type's zero value.
func (e *encoder) anyValue(f protowire.Number, v attribute.Value) {
	m := e.open(f)
	switch v.Type() {
	case attribute.BOOL:
		e.b = protowire.AppendTag(e.b, fAnyBool, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		e.b = protowire.AppendTag(e.b, fAnyInt, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		e.b = protowire.AppendTag(e.b, fAnyDouble, protowire.Fixed64Type)
		e.b = protowire.AppendFixed64(e.b, math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		e.b = protowire.AppendTag(e.b, fAnyString, protowire.BytesType)
		e.b = protowire.AppendString(e.b, v.AsString())
	case attribute.BYTESLICE:
		e.b = protowire.AppendTag(e.b, fAnyBytes, protowire.BytesType)
		e.b = protowire.AppendBytes(e.b, v.AsByteSlice())
	case attribute.BOOLSLICE:
		array(e, v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		array(e, v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		array(e, v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		array(e, v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		array(e, v.AsSlice(), func(x attribute.Value) attribute.Value { return x })
	case attribute.MAP:
		a := e.open(fAnyKVList)
		for _, kv := range v.AsMap() {
			e.keyValue(fListValues, kv)
		}
		e.close(a)
	case attribute.EMPTY:
	default:
		e.b = protowire.AppendTag(e.b, fAnyString, protowire.BytesType)
		e.b = protowire.AppendString(e.b, "INVALID")
	}
	e.close(m)
}

// array writes xs as an AnyValue's ArrayValue.
func array[T any](e *encoder, xs []T, value func(T) attribute.Value) {
	a := e.open(fAnyArray)
	for _, x := range xs {
		e.anyValue(fListValues, value(x))
	}
	e.close(a)
}

// spanKind is kind's OTLP number (the same numbering: unspecified 0,
// internal, server, client, producer, consumer).
func spanKind(k trace.SpanKind) trace.SpanKind {
	if k < trace.SpanKindInternal || k > trace.SpanKindConsumer {
		return trace.SpanKindUnspecified
	}
	return k
}

// statusCode is c's OTLP number (OTLP: unset 0, ok 1, error 2; the Go
// API numbers ok and error the other way round).
func statusCode(c codes.Code) uint64 {
	switch c {
	case codes.Ok:
		return 1
	case codes.Error:
		return 2
	}
	return 0
}

func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf) | flagHasIsRemote
	if parent.IsRemote() {
		f |= flagIsRemote
	}
	return f
}

func unixNano(n int64) uint64 { return uint64(max(0, n)) }

func clamp32(v int) uint64 { return uint64(min(max(v, 0), math.MaxUint32)) }
