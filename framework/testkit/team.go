package testkit

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Answer is a fake team's reply to one request: a status and a JSON body.
type Answer func(r *http.Request) (status int, body []byte)

// Fault is how a fake team misbehaves. The zero Fault is a healthy team.
// Fields combine: Slow(d) with Status(500) waits, then fails.
type Fault struct {
	// Down closes the connection without answering.
	Down bool
	// Delay waits this long before answering, or until the caller gives up.
	Delay time.Duration
	// Status, when set, answers this status without asking the Answer,
	// with Body or {"error":"injected failure"}.
	Status int
	// Body, when set, replaces the answer's body (another team's schema,
	// say); with Status it is the error body.
	Body []byte
	// BrokenJSON cuts the body in half, so it no longer parses.
	BrokenJSON bool
}

// Down is a team that takes each request and closes the connection
// without answering, as a crashing server does. For an address that
// refuses connections, start the upstream with Refusing.
func Down() Fault { return Fault{Down: true} }

// Slow is a team that answers only after d (or never, if the caller gives
// up first: the upstream client's timeout then fires).
func Slow(d time.Duration) Fault { return Fault{Delay: d} }

// Status is a team that answers every request with status.
func Status(status int) Fault { return Fault{Status: status} }

// BrokenJSON is a team whose bodies are cut in half.
func BrokenJSON() Fault { return Fault{BrokenJSON: true} }

// InjectedBody is the body of an injected Status fault without a Body.
const InjectedBody = `{"error":"injected failure"}`

// Team is a fake upstream team as an http.Handler: it counts requests,
// applies its Fault, and otherwise replies with its Answer. Upstream serves
// one on 127.0.0.1 for a test; a mock server (app/mockupstream) mounts
// several in one mux.
type Team struct {
	name   string
	answer Answer
	calls  atomic.Int64
	mu     sync.RWMutex
	fault  Fault
}

// NewTeam returns a healthy team named name that replies with answer.
func NewTeam(name string, answer Answer) *Team {
	return &Team{name: name, answer: answer}
}

// Name returns the team's name, the upstream's key in the config.
func (tm *Team) Name() string { return tm.name }

// Fail makes every later request meet f; Fail(Fault{}) heals the team.
func (tm *Team) Fail(f Fault) {
	tm.mu.Lock()
	tm.fault = f
	tm.mu.Unlock()
}

// Heal clears the team's fault.
func (tm *Team) Heal() { tm.Fail(Fault{}) }

// Fault returns the team's current fault.
func (tm *Team) Fault() Fault {
	tm.mu.RLock()
	defer tm.mu.RUnlock()
	return tm.fault
}

// Calls returns how many requests the team has received.
func (tm *Team) Calls() int64 { return tm.calls.Load() }

// ResetCalls sets the request count back to zero.
func (tm *Team) ResetCalls() { tm.calls.Store(0) }

// ServeHTTP answers r under the team's current fault.
func (tm *Team) ServeHTTP(w http.ResponseWriter, r *http.Request) { tm.Serve(w, r, tm.Fault()) }

// Serve answers r under fault f instead of the team's own: a caller that
// decides per request (a fault rate) passes the fault it drew.
func (tm *Team) Serve(w http.ResponseWriter, r *http.Request, f Fault) {
	tm.calls.Add(1)
	if f.Down {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // net/http drops the connection unanswered
	}
	if f.Delay > 0 {
		timer := time.NewTimer(f.Delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		}
	}
	status, body := f.Status, f.Body
	if status == 0 {
		status, body = tm.answer(r)
		if f.Body != nil {
			body = f.Body
		}
	} else if body == nil {
		body = []byte(InjectedBody)
	}
	if f.BrokenJSON {
		body = body[:len(body)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
