// Package service composes models from several upstreams: the business
// logic of the BFF. Services never import echo.
package service

import (
	"context"
	"encoding/json"

	"github.com/wings-bff/wings/app/formatter"
	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/fanout"
	"github.com/wings-bff/wings/framework/render"
)

// VideoSource is what VideoService needs from team A.
type VideoSource interface {
	VideoInfo(ctx context.Context, id int64) (json.RawMessage, error)
}

// AlbumSource is what VideoService needs from team B.
type AlbumSource interface {
	Album(ctx context.Context, id int64) (json.RawMessage, error)
}

// StarSource is what VideoService needs from team C.
type StarSource interface {
	StarsOfVideo(ctx context.Context, videoID int64) ([]json.RawMessage, error)
}

// VideoService builds the video detail page's data.
type VideoService struct {
	videos VideoSource
	albums AlbumSource
	stars  StarSource

	videoFmt *formatter.VideoFormatter
	albumFmt *formatter.AlbumFormatter
	starFmt  *formatter.StarFormatter
}

// NewVideoService returns a VideoService over the three teams' sources.
func NewVideoService(videos VideoSource, albums AlbumSource, stars StarSource) *VideoService {
	return &VideoService{
		videos: videos, albums: albums, stars: stars,
		videoFmt: formatter.NewVideoFormatter(),
		albumFmt: formatter.NewAlbumFormatter(),
		starFmt:  formatter.NewStarFormatter(),
	}
}

type videoWithAlbum struct {
	video   model.Video
	albumID int64
}

// Detail calls team A and team C concurrently, then team B with A's album
// id, and composes the video. Video and album are required: their failure
// is the answer's. Stars are optional: when team C fails or is slow the
// video comes with no stars and meta lists "stars" as degraded.
func (s *VideoService) Detail(ctx context.Context, id int64) (*model.Video, render.Meta, error) {
	g := fanout.New(ctx)
	video := fanout.Go(g, "video", func(ctx context.Context) (videoWithAlbum, error) {
		raw, err := s.videos.VideoInfo(ctx, id)
		if err != nil {
			return videoWithAlbum{}, err
		}
		v, albumID, err := s.videoFmt.Format(raw)
		if err != nil {
			return videoWithAlbum{}, apperr.Upstream("video", err)
		}
		return videoWithAlbum{video: v, albumID: albumID}, nil
	})
	stars := fanout.Go(g, "stars", func(ctx context.Context) ([]model.Star, error) {
		items, err := s.stars.StarsOfVideo(ctx, id)
		if err != nil {
			return nil, err
		}
		list, err := s.starFmt.Format(items)
		if err != nil {
			return nil, apperr.Upstream("star", err)
		}
		return list, nil
	}, fanout.Optional())
	album := fanout.Then(g, "album", video, func(ctx context.Context, v videoWithAlbum) (model.Album, error) {
		raw, err := s.albums.Album(ctx, v.albumID)
		if err != nil {
			return model.Album{}, err
		}
		a, err := s.albumFmt.Format(raw)
		if err != nil {
			return model.Album{}, apperr.Upstream("album", err)
		}
		return a, nil
	})
	if err := g.Wait(); err != nil {
		return nil, render.Meta{}, err
	}
	out := video.Value().video
	a := album.Value()
	out.Album = &a
	out.Stars = stars.Value()
	if out.Stars == nil {
		out.Stars = []model.Star{}
	}
	return &out, render.Meta{Degraded: g.Degraded(), Stale: g.Stale()}, nil
}
