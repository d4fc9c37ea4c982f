// Command handwritten is the baseline that `make bench` measures Wings
// against: GET /api/video/:id written by hand with echo, net/http and
// encoding/json, with no Wings code. It calls team A and team C
// concurrently, then team B with A's album id, decodes into typed structs
// and answers the same JSON as the framework's example app.
//
//	handwritten -addr 127.0.0.1:8081 -upstream http://127.0.0.1:9090
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
)

// Team A: GET /video/info?id=N.
type videoResp struct {
	Code string `json:"code"`
	Msg  string `json:"msg"`
	Data *struct {
		QipuID    int64  `json:"qipuId"`
		VideoName string `json:"videoName"`
		Duration  string `json:"duration"`
		ImageURL  string `json:"imageUrl"`
		PlayCount int64  `json:"playCount"`
		AlbumID   int64  `json:"albumId"`
	} `json:"data"`
}

// Team B: GET /album/ID.
type albumResp struct {
	Status int `json:"status"`
	Result *struct {
		AlbumID      int64  `json:"album_id"`
		AlbumTitle   string `json:"album_title"`
		EpisodeTotal int    `json:"episode_total"`
		Cover        struct {
			URL string `json:"url"`
		} `json:"cover"`
	} `json:"result"`
}

// Team C: GET /stars?video_id=N.
type starsResp struct {
	OK    bool `json:"ok"`
	Items []struct {
		StarID int64  `json:"starId"`
		Name   string `json:"name"`
		Avatar string `json:"avatar"`
	} `json:"items"`
}

type album struct {
	ID       int64  `json:"id"`
	Title    string `json:"title"`
	Episodes int    `json:"episodes"`
	Cover    string `json:"cover"`
}

type star struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Avatar string `json:"avatar"`
}

type video struct {
	ID        int64  `json:"id"`
	Title     string `json:"title"`
	Duration  int64  `json:"duration"`
	Cover     string `json:"cover"`
	PlayCount int64  `json:"playCount"`
	Album     *album `json:"album"`
	Stars     []star `json:"stars"`
}

type envelope struct {
	Code int    `json:"code"`
	Data *video `json:"data,omitempty"`
	Msg  string `json:"msg,omitempty"`
}

type server struct {
	client *http.Client
	base   string
}

var errNotFound = errors.New("not found")

func (s *server) get(ctx context.Context, timeout time.Duration, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// seconds parses "HH:MM:SS" or "MM:SS".
func seconds(s string) int64 {
	var total int64
	for _, part := range strings.Split(s, ":") {
		n, _ := strconv.ParseInt(part, 10, 64)
		total = total*60 + n
	}
	return total
}

func (s *server) detail(ctx context.Context, id int64) (*video, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg         sync.WaitGroup
		v          videoResp
		a          albumResp
		st         starsResp
		vErr, sErr error
	)
	wg.Add(2)
	// Team A, then team B with A's album id as soon as A answers.
	go func() {
		defer wg.Done()
		vErr = s.get(ctx, 800*time.Millisecond, "/video/info?id="+strconv.FormatInt(id, 10), &v)
		switch {
		case vErr != nil:
		case v.Code == "A00004":
			vErr = errNotFound
		case v.Code != "A00000" || v.Data == nil:
			vErr = fmt.Errorf("team A: code %q", v.Code)
		default:
			vErr = s.get(ctx, 800*time.Millisecond, "/album/"+strconv.FormatInt(v.Data.AlbumID, 10), &a)
			if vErr == nil && (a.Status != 0 || a.Result == nil) {
				vErr = fmt.Errorf("team B: status %d", a.Status)
			}
		}
		if vErr != nil {
			cancel()
		}
	}()
	// Team C, concurrently.
	go func() {
		defer wg.Done()
		sErr = s.get(ctx, 500*time.Millisecond, "/stars?video_id="+strconv.FormatInt(id, 10), &st)
		if sErr == nil && !st.OK {
			sErr = errors.New("team C: ok=false")
		}
		if sErr != nil {
			cancel()
		}
	}()
	wg.Wait()
	if vErr != nil {
		return nil, vErr
	}
	if sErr != nil {
		return nil, sErr
	}
	out := &video{
		ID: v.Data.QipuID, Title: v.Data.VideoName, Duration: seconds(v.Data.Duration),
		Cover: v.Data.ImageURL, PlayCount: v.Data.PlayCount,
		Album: &album{ID: a.Result.AlbumID, Title: a.Result.AlbumTitle, Episodes: a.Result.EpisodeTotal, Cover: a.Result.Cover.URL},
		Stars: make([]star, 0, len(st.Items)),
	}
	for _, it := range st.Items {
		out.Stars = append(out.Stars, star{ID: it.StarID, Name: it.Name, Avatar: it.Avatar})
	}
	return out, nil
}

func (s *server) handle(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return c.JSON(http.StatusBadRequest, envelope{Code: http.StatusBadRequest, Msg: "id: must be a positive integer"})
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	v, err := s.detail(ctx, id)
	switch {
	case errors.Is(err, errNotFound):
		return c.JSON(http.StatusNotFound, envelope{Code: http.StatusNotFound, Msg: "not found"})
	case err != nil:
		return c.JSON(http.StatusBadGateway, envelope{Code: http.StatusBadGateway, Msg: "upstream error"})
	}
	return c.JSON(http.StatusOK, envelope{Data: v})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	base := flag.String("upstream", "http://127.0.0.1:9090", "base URL of the three upstream teams")
	flag.Parse()

	s := &server{base: strings.TrimRight(*base, "/"), client: &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 800 * time.Millisecond, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}}}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/api/video/:id", s.handle)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := &http.Server{Addr: *addr, Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
