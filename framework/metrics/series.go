package metrics

import "sync"

// Series keeps the child series of a metric vector once made, by a
// comparable key of its label values. Looking a child up by label values
// (WithLabelValues: hash every value, check it, lock the vector) costs
// more than the counting itself on a path that counts every request; a
// read-locked map lookup does not. Keys must come from a bounded set
// (route templates, fixed outcomes), as labels must anyway.
//
//	s, ok := series.Load(k)
//	if !ok {
//		s = series.Store(k, vec.WithLabelValues(...))
//	}
type Series[K comparable, S any] struct {
	mu sync.RWMutex
	m  map[K]S
}

// Load returns the series kept for k.
func (s *Series[K, S]) Load(k K) (S, bool) {
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	return v, ok
}

// Store keeps v for k and returns it. Racing first calls may both store:
// what they store must be the same series, as WithLabelValues returns.
func (s *Series[K, S]) Store(k K, v S) S {
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[K]S)
	}
	s.m[k] = v
	s.mu.Unlock()
	return v
}
