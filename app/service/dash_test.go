package service

import (
	"testing"
	"time"
)

// TestDashTodayEveryHour hands the service a clock at every hour of 2028 (a
// leap year) plus a second after each midnight: today is the calendar
// date in the configured zone, never UTC's (midnight in Shanghai is 16:00
// UTC the day before).
func TestDashTodayEveryHour(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	var now time.Time
	s := NewDashService(nil, nil, sh, time.Minute, func() time.Time { return now })
	for at := time.Date(2028, 1, 1, 0, 0, 1, 0, sh); at.Year() == 2028; at = at.Add(time.Hour) {
		now = at.UTC()
		got := s.Today()
		want := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, sh)
		if !got.Equal(want) || got.Location() != sh {
			t.Fatalf("clock %s (%s UTC): today %s; want %s", at, now.Format(time.DateTime), got, want)
		}
	}
	now = time.Date(2028, 2, 28, 16, 0, 0, 0, time.UTC) // 00:00 on Feb 29 in Shanghai
	if got := s.Today().Format(time.DateOnly); got != "2028-02-29" {
		t.Errorf("leap day midnight: today %s", got)
	}
}
