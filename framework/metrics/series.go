package metrics

import "sync"

// Series keeps the child series of a metric vector once made, by a
// comparable key of its label values. Looking a child up by label values
// (WithLabelValues: hash every value, check it, lock the vector) costs
// more than the counting itself on a path that counts every request; a
// read-locked map lookup does not. Keys must come from a bounded set
// (route templates, fixed outcomes), as labels must anyway.
type Series[K comparable, S any] struct {
	mu sync.RWMutex
	m  map[K]S
}

// Get returns the series for k, made with mk the first time. Racing first
// calls may both run mk: it must be idempotent, as WithLabelValues is.
func (s *Series[K, S]) Get(k K, mk func() S) S {
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	if ok {
		return v
	}
	v = mk()
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[K]S)
	}
	s.m[k] = v
	s.mu.Unlock()
	return v
}
