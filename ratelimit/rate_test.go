package ratelimit

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rate   string
		on     bool
		limit  int64
		period time.Duration
		err    bool
	}{
		{rate: "100-S", on: true, limit: 100, period: time.Second},
		{rate: "6000-M", on: true, limit: 6000, period: time.Minute},
		{rate: "10-H", on: true, limit: 10, period: time.Hour},
		{rate: "1-D", on: true, limit: 1, period: 24 * time.Hour},
		{rate: "off"},
		{rate: "", err: true},
		{rate: "abc", err: true},
		{rate: "0-S", err: true},
		{rate: "-1-M", err: true},
		{rate: "10-X", err: true},
		{rate: "10", err: true},
		{rate: "OFF", err: true},
		{rate: " 100-S", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.rate, func(t *testing.T) {
			t.Parallel()
			r, on, err := ParseRate(tt.rate)
			if tt.err {
				if err == nil {
					t.Fatalf("ParseRate(%q) = %+v, %v, nil; want an error", tt.rate, r, on)
				}
				if on {
					t.Errorf("ParseRate(%q) reports on=true with an error", tt.rate)
				}
				if !strings.Contains(err.Error(), strconv.Quote(tt.rate)) {
					t.Errorf("error %q does not quote the rate", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRate(%q): %v", tt.rate, err)
			}
			if on != tt.on {
				t.Fatalf("ParseRate(%q) on = %v, want %v", tt.rate, on, tt.on)
			}
			if tt.on && (r.Limit != tt.limit || r.Period != tt.period) {
				t.Errorf("ParseRate(%q) = %d per %v, want %d per %v", tt.rate, r.Limit, r.Period, tt.limit, tt.period)
			}
		})
	}
}
