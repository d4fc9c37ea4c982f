// Package model holds the shared entities the BFF answers with. Every
// upstream team's schema is mapped onto these by app/formatter, so output
// stays consistent whichever team a field came from.
package model

// Video is one video as the front end sees it.
type Video struct {
	ID        int64  `json:"id"`
	Title     string `json:"title"`
	Duration  int64  `json:"duration"` // seconds
	Cover     string `json:"cover"`
	PlayCount int64  `json:"playCount"`
	Album     *Album `json:"album"`
	Stars     []Star `json:"stars"`
}

// Album is the album (series) a video belongs to.
type Album struct {
	ID       int64  `json:"id"`
	Title    string `json:"title"`
	Episodes int    `json:"episodes"`
	Cover    string `json:"cover"`
}

// Star is a person appearing in a video.
type Star struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Avatar string `json:"avatar"`
}
