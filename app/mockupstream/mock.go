// Package mockupstream serves the three upstream teams' APIs for local runs,
// tests and benchmarks: deterministic data by id, with injectable latency and
// faults. Faults are set at start (flags) and changed at run time through
// POST /_mock/faults, so tests can break and heal an upstream while the BFF
// keeps running.
//
//	team A (video): GET /video/info?id=N
//	team B (album): GET /album/{id}
//	team C (star):  GET /stars?video_id=N
//	control:        GET|POST /_mock/faults, GET /_mock/stats, POST /_mock/reset
package mockupstream

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wings-bff/wings/framework/testkit"
)

// Teams served by the mock.
var Teams = []string{"video", "album", "star"}

// Faults degrade one team's answers. Rates are probabilities in [0,1].
type Faults struct {
	// Latency is added to every answer.
	Latency Duration `json:"latency"`
	// ErrorRate answers HTTP 500.
	ErrorRate float64 `json:"error_rate"`
	// SlowRate sleeps SlowLatency (default 2s) before answering.
	SlowRate    float64  `json:"slow_rate"`
	SlowLatency Duration `json:"slow_latency"`
	// MalformedRate answers truncated JSON.
	MalformedRate float64 `json:"malformed_rate"`
	// WrongSchemaRate answers valid JSON in another team's shape.
	WrongSchemaRate float64 `json:"wrong_schema_rate"`
	// Down closes the connection without answering.
	Down bool `json:"down"`
}

// Duration is a time.Duration that reads and writes "150ms" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "150ms" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration: want a string like \"150ms\"")
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Server is the mock's state; Handler serves it. Each team is a
// testkit.Team: the kit counts its calls and applies the fault drawn for
// each request from the team's Faults.
type Server struct {
	mu       sync.RWMutex
	faults   map[string]Faults
	notFound map[int64]bool
	teams    map[string]*testkit.Team
	cache    sync.Map // team+id -> []byte, answers are deterministic
}

// New returns a mock where faults apply per team and ids in notFound are
// unknown to team A.
func New(faults map[string]Faults, notFound []int64) *Server {
	s := &Server{faults: map[string]Faults{}, notFound: map[int64]bool{}}
	s.teams = map[string]*testkit.Team{
		"video": testkit.NewTeam("video", s.video),
		"album": testkit.NewTeam("album", s.album),
		"star":  testkit.NewTeam("star", s.stars),
	}
	for _, t := range Teams {
		s.faults[t] = faults[t]
	}
	for _, id := range notFound {
		s.notFound[id] = true
	}
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /video/info", s.team("video"))
	mux.HandleFunc("GET /album/{id}", s.team("album"))
	mux.HandleFunc("GET /stars", s.team("star"))
	mux.HandleFunc("GET /_mock/faults", s.getFaults)
	mux.HandleFunc("POST /_mock/faults", s.setFaults)
	mux.HandleFunc("GET /_mock/stats", s.stats)
	mux.HandleFunc("POST /_mock/reset", s.reset)
	return mux
}

// Calls returns how many requests team has received.
func (s *Server) Calls(team string) int64 { return s.teams[team].Calls() }

// Bodies a faulty team answers instead of its own.
var (
	malformedBody   = []byte(`{"code":"A00000","data":{"qipuId":`)
	wrongSchemaBody = []byte(`{"status":"weird","items":"not a list","data":[1,2,3]}`)
)

// team serves a team's route under a fault drawn from its Faults.
func (s *Server) team(name string) http.HandlerFunc {
	tm := s.teams[name]
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.RLock()
		f := s.faults[name]
		s.mu.RUnlock()
		tm.Serve(w, r, draw(f))
	}
}

// draw turns a team's fault rates into the fault of one request.
func draw(f Faults) testkit.Fault {
	if f.Down {
		return testkit.Down()
	}
	out := testkit.Fault{Delay: time.Duration(f.Latency)}
	if f.SlowRate > 0 && rand.Float64() < f.SlowRate {
		slow := time.Duration(f.SlowLatency)
		if slow == 0 {
			slow = 2 * time.Second
		}
		out.Delay += slow
	}
	switch {
	case f.ErrorRate > 0 && rand.Float64() < f.ErrorRate:
		out.Status = http.StatusInternalServerError
	case f.MalformedRate > 0 && rand.Float64() < f.MalformedRate:
		out.Body = malformedBody
	case f.WrongSchemaRate > 0 && rand.Float64() < f.WrongSchemaRate:
		out.Body = wrongSchemaBody
	}
	return out
}

func (s *Server) cached(key string, build func() []byte) []byte {
	if b, ok := s.cache.Load(key); ok {
		return b.([]byte)
	}
	b := build()
	s.cache.Store(key, b)
	return b
}

func badRequest(msg string) (int, []byte) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return http.StatusBadRequest, b
}

func (s *Server) video(r *http.Request) (int, []byte) {
	id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	if err != nil || id <= 0 {
		return badRequest("id required")
	}
	s.mu.RLock()
	missing := s.notFound[id]
	s.mu.RUnlock()
	if missing {
		return http.StatusOK, []byte(`{"code":"A00004","msg":"not found"}`)
	}
	return http.StatusOK, s.cached("v"+strconv.FormatInt(id, 10), func() []byte { return VideoBody(id) })
}

func (s *Server) album(r *http.Request) (int, []byte) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return badRequest("album id required")
	}
	return http.StatusOK, s.cached("a"+strconv.FormatInt(id, 10), func() []byte { return AlbumBody(id) })
}

func (s *Server) stars(r *http.Request) (int, []byte) {
	id, err := strconv.ParseInt(r.URL.Query().Get("video_id"), 10, 64)
	if err != nil || id <= 0 {
		return badRequest("video_id required")
	}
	return http.StatusOK, s.cached("s"+strconv.FormatInt(id, 10), func() []byte { return StarsBody(id) })
}

func (s *Server) getFaults(w http.ResponseWriter, _ *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	writeJSON(w, http.StatusOK, s.faults)
}

// setFaults replaces the faults of the teams named in the body, e.g.
// {"album":{"error_rate":1}}; teams not named keep theirs.
func (s *Server) setFaults(w http.ResponseWriter, r *http.Request) {
	var in map[string]Faults
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	for team := range in { // all or nothing: check every team first
		if _, ok := s.teams[team]; !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown team " + team})
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for team, f := range in {
		s.faults[team] = f
	}
	writeJSON(w, http.StatusOK, s.faults)
}

func (s *Server) stats(w http.ResponseWriter, _ *http.Request) {
	out := map[string]int64{}
	for name, tm := range s.teams {
		out[name] = tm.Calls()
	}
	writeJSON(w, http.StatusOK, out)
}

// reset clears faults and call counts.
func (s *Server) reset(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	for _, t := range Teams {
		s.faults[t] = Faults{}
		s.teams[t].ResetCalls()
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"status": "reset"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ParseIDs parses "404,13" into ids.
func ParseIDs(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not-found id %q: %w", f, err)
		}
		out = append(out, id)
	}
	return out, nil
}
