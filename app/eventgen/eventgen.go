// Package eventgen generates realistic demo events for the dashboards: a
// few large business lines and many small ones, Zipf-distributed items, a
// user pool with fixed platform and region per user, a daily rhythm and a
// narrowing view -> click -> cart -> order funnel.
package eventgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/wings-bff/wings/app/model"
)

// Line is a business line and its share of all events.
type Line struct {
	Name  string
	Share float64
	Items int
}

// BigLines are the large business lines.
var BigLines = []string{"video", "music", "mall", "game", "news"}

// SmallLines are the many small business lines.
var SmallLines = []string{"book", "travel", "health", "edu", "auto", "food", "sport", "finance",
	"kids", "home", "pet", "beauty", "job", "house", "ticket"}

// Lines returns every line with its share; the big ones take 88%.
func Lines() []Line {
	big := []float64{0.30, 0.14, 0.22, 0.12, 0.10}
	var out []Line
	for i, n := range BigLines {
		out = append(out, Line{Name: n, Share: big[i], Items: 20000})
	}
	for _, n := range SmallLines {
		out = append(out, Line{Name: n, Share: 0.12 / float64(len(SmallLines)), Items: 2000})
	}
	return out
}

// Platforms and Regions are the values of the filter dimensions.
var (
	Platforms = []string{"ios", "android", "web", "h5"}
	Regions   = []string{"beijing", "shanghai", "guangdong", "zhejiang", "jiangsu", "sichuan", "hubei", "shandong"}
	// stepRate is the chance to go on from step i to step i+1 of the home
	// funnel (model.FunnelSteps).
	stepRate = []float64{0.25, 0.35, 0.45}
	// hourWeight is the daily rhythm: quiet nights, lunch and evening peaks.
	hourWeight = []float64{3, 2, 1.2, 0.8, 0.6, 0.7, 1.5, 3, 4.5, 5, 5.5, 6, 7, 6.5, 5.5, 5.5, 5.8, 6, 6.5, 7.5, 8.5, 9, 7.5, 5}
)

// Generator makes events; it is not safe for concurrent use.
type Generator struct {
	r       *rand.Rand
	lines   []Line
	cum     []float64
	users   uint64
	userZ   *rand.Zipf
	itemZ   map[string]*rand.Zipf
	hourCum []float64
	steps   []string // model.FunnelSteps
}

// New returns a generator over a pool of users, seeded for repeatability.
func New(seed uint64, users uint64) *Generator {
	if users < 100 {
		users = 100
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &Generator{r: r, lines: Lines(), users: users, itemZ: map[string]*rand.Zipf{}, steps: model.FunnelSteps()}
	acc := 0.0
	for _, l := range g.lines {
		acc += l.Share
		g.cum = append(g.cum, acc)
		g.itemZ[l.Name] = rand.NewZipf(r, 1.1, 1, uint64(l.Items-1))
	}
	// Users: a few heavy ones, a long tail of light ones.
	g.userZ = rand.NewZipf(r, 1.05, 20, users-1)
	acc = 0
	for _, w := range hourWeight {
		acc += w
		g.hourCum = append(g.hourCum, acc)
	}
	return g
}

func pick(cum []float64, x float64) int {
	x *= cum[len(cum)-1]
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

// UserProps returns the platform and region of a user: properties of the
// user, not of the event.
func UserProps(user uint64) (string, string) {
	h := user*0x9e3779b97f4a7c15 + 7
	return Platforms[(h>>33)%uint64(len(Platforms))], Regions[(h>>17)%uint64(len(Regions))]
}

// Session appends one user session starting at t to out: 1+ views of
// Zipf-drawn items, each possibly followed by click, cart and order a few
// seconds to minutes later. It returns the number of events added.
func (g *Generator) Session(out *model.EventColumns, t time.Time, line string) int {
	user := g.userZ.Uint64() + 1
	// Shuffle the user id so heavy users are not all small ids.
	user = (user*2654435761)%g.users + 1
	platform, region := UserProps(user)
	n := 0
	views := 1 + int(g.r.ExpFloat64()*2)
	for v := 0; v < views; v++ {
		item := fmt.Sprintf("%s-%d", line, g.itemZ[line].Uint64()+1)
		dwell := math.Round(g.r.ExpFloat64()*40*10) / 10
		out.Add(t, line, g.steps[0], user, item, platform, region, dwell)
		n++
		at := t
		for s := 1; s < len(g.steps); s++ {
			if g.r.Float64() >= stepRate[s-1] {
				break
			}
			at = at.Add(time.Duration(1+g.r.IntN(600)) * time.Second)
			val := 0.0
			if s >= 2 {
				val = math.Round(math.Exp(3.5+g.r.NormFloat64())*100) / 100
			}
			out.Add(at, line, g.steps[s], user, item, platform, region, val)
			n++
		}
		t = t.Add(time.Duration(5+g.r.IntN(120)) * time.Second)
	}
	return n
}

// Line picks a business line by share.
func (g *Generator) Line() string { return g.lines[pick(g.cum, g.r.Float64())].Name }

// Day appends about n events of the day starting at dayStart, with session
// starts before until (the day's end or now), following the daily rhythm.
// Events that would spill past until or into the next day are dropped, so
// a batch stays inside one day partition.
func (g *Generator) Day(out *model.EventColumns, dayStart, until time.Time, n int) {
	end := dayStart.Add(24 * time.Hour)
	if until.After(end) || until.IsZero() {
		until = end
	}
	limit := until.Sub(dayStart)
	if limit <= 0 {
		return
	}
	for added := 0; added < n; {
		h := pick(g.hourCum, g.r.Float64())
		off := time.Duration(h)*time.Hour + time.Duration(g.r.Int64N(int64(time.Hour)))
		if off >= limit {
			continue
		}
		start := out.Len()
		g.Session(out, dayStart.Add(off), g.Line())
		// Drop events past until (the session ran on).
		k := start
		for i := start; i < out.Len(); i++ {
			if out.Time[i].Before(until) {
				copyEvent(out, k, i)
				k++
			}
		}
		truncate(out, k)
		added += k - start
	}
}

// Now appends events of sessions starting now (for the live simulator);
// their later steps are in the past so they are visible at once.
func (g *Generator) Now(out *model.EventColumns, now time.Time, n int) {
	for added := 0; added < n; {
		start := out.Len()
		g.Session(out, now.Add(-time.Duration(g.r.IntN(60))*time.Second), g.Line())
		added += out.Len() - start
	}
	for i := range out.Time {
		if out.Time[i].After(now) {
			out.Time[i] = now
		}
	}
}

func copyEvent(c *model.EventColumns, dst, src int) {
	if dst == src {
		return
	}
	c.Time[dst], c.Line[dst], c.Event[dst], c.User[dst] = c.Time[src], c.Line[src], c.Event[src], c.User[src]
	c.Item[dst], c.Platform[dst], c.Region[dst], c.Value[dst] = c.Item[src], c.Platform[src], c.Region[src], c.Value[src]
}

func truncate(c *model.EventColumns, n int) {
	c.Time, c.Line, c.Event, c.User = c.Time[:n], c.Line[:n], c.Event[:n], c.User[:n]
	c.Item, c.Platform, c.Region, c.Value = c.Item[:n], c.Platform[:n], c.Region[:n], c.Value[:n]
}
