package fanout

import (
	"sync"
	"sync/atomic"

	"github.com/wings-bff/wings/framework/reqctx"
)

// Pool starts a group's calls on goroutines kept from earlier calls.
//
// A call made on a fresh goroutine grows that goroutine's stack through the
// upstream client (resty and net/http run deep), for the one call per
// request that Wait does not run itself. A goroutine of the pool keeps its grown stack
// between calls (the garbage collector may shrink the stack of an idle
// one, which then grows again once).
//
// A call never waits for a goroutine: an idle one takes it at once, or, if
// none is idle, a new goroutine runs it, joining the pool afterwards while
// the pool has fewer than its maximum. So calls start exactly as they
// would with go statements.
type Pool struct {
	calls   chan starter // unbuffered: a send succeeds only into an idle goroutine
	max     int32
	workers atomic.Int32
	exited  sync.WaitGroup // one per goroutine of the pool, done when it exits
	done    chan struct{}
	close   sync.Once
}

// NewPool returns a pool keeping up to max goroutines. The Runtime makes
// one and gives it to every request's fan-outs (reqctx.Info.Pool).
func NewPool(max int) *Pool {
	return &Pool{calls: make(chan starter), max: int32(max), done: make(chan struct{})}
}

// Close lets the idle goroutines exit, and the busy ones once their call
// ends; later calls run on goroutines of their own.
func (p *Pool) Close() { p.close.Do(func() { close(p.done) }) }

// Start runs s concurrently (reqctx.Pool).
func (p *Pool) Start(s reqctx.Runner) {
	select {
	case p.calls <- s:
		return
	default:
	}
	if p.workers.Add(1) <= p.max {
		p.exited.Add(1)
		go p.work(s)
		return
	}
	p.workers.Add(-1)
	go s.Run()
}

// work runs s, then the calls handed to it until the pool closes.
func (p *Pool) work(s starter) {
	defer p.exited.Done()
	defer p.workers.Add(-1)
	for {
		s.Run()
		s = nil // an idle goroutine keeps nothing of the request alive
		select {
		case s = <-p.calls:
		case <-p.done:
			return
		}
	}
}
