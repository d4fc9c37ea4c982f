package mockupstream

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// AlbumID is the album of video id.
func AlbumID(videoID int64) int64 { return 1000 + videoID%97 }

// PlayCount is the play count of video id.
func PlayCount(videoID int64) int64 { return videoID*7919%1_000_000 + 1 }

// StarIDs are the stars of video id.
func StarIDs(videoID int64) []int64 {
	return []int64{videoID%50 + 1, videoID%50 + 51, videoID%50 + 101}
}

type kv struct {
	k string
	v any
}

// object marshals key/value pairs in order, the way a real team's API
// answers.
func object(pairs []kv) json.RawMessage {
	b := []byte{'{'}
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, p.k)
		b = append(b, ':')
		v, err := json.Marshal(p.v)
		if err != nil {
			panic(err) // static data; cannot fail
		}
		b = append(b, v...)
	}
	return append(b, '}')
}

// VideoBody is team A's answer for a known id: the fields the BFF uses plus
// thirty it must drop.
func VideoBody(id int64) []byte {
	data := []kv{
		{"qipuId", id},
		{"videoName", fmt.Sprintf("Video %d", id)},
		{"duration", "00:42:10"},
		{"imageUrl", fmt.Sprintf("https://img.example/v/%d.jpg", id)},
		{"playCount", PlayCount(id)},
		{"albumId", AlbumID(id)},
		{"categories", []string{"drama", "romance", "mainland"}},
	}
	for i := 1; i <= 30; i++ {
		data = append(data, kv{fmt.Sprintf("extField%02d", i), fmt.Sprintf("team A internal value %d for video %d", i, id)})
	}
	return object([]kv{{"code", "A00000"}, {"data", object(data)}})
}

// AlbumBody is team B's answer.
func AlbumBody(id int64) []byte {
	result := object([]kv{
		{"album_id", id},
		{"album_title", fmt.Sprintf("Album %d", id)},
		{"episode_total", 40},
		{"cover", object([]kv{{"url", fmt.Sprintf("https://img.example/a/%d.jpg", id)}, {"w", 300}, {"h", 400}})},
		{"update_time", "2026-11-20 10:00:00"},
		{"is_finished", false},
		{"region", "CN"},
	})
	return object([]kv{{"status", 0}, {"result", result}})
}

// StarsBody is team C's answer.
func StarsBody(videoID int64) []byte {
	var items []json.RawMessage
	for _, sid := range StarIDs(videoID) {
		items = append(items, object([]kv{
			{"starId", sid},
			{"name", fmt.Sprintf("Star %d", sid)},
			{"avatar", fmt.Sprintf("https://img.example/s/%d.jpg", sid)},
			{"fans", sid * 1000},
			{"birthday", "1990-01-01"},
		}))
	}
	return object([]kv{{"ok", true}, {"items", items}})
}
