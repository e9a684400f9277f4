package ratelimit

import (
	"fmt"

	"github.com/ulule/limiter/v3"
)

// Off is the rate that turns a limit off.
const Off = "off"

// ParseRate reads a rate as every tollgate limit takes it: limiter's
// "<limit>-<S|M|H|D>" (requests per second, minute, hour or day, such as
// "100-S") or [Off]. on is false for Off. The error quotes rate and shows
// the format, so a config loader can print it after the key it read.
func ParseRate(rate string) (r limiter.Rate, on bool, err error) {
	if rate == Off {
		return limiter.Rate{}, false, nil
	}
	r, err = limiter.NewRateFromFormatted(rate)
	if err != nil {
		return r, false, fmt.Errorf("rate %q: want <limit>-<S|M|H|D> such as 100-S, or off", rate)
	}
	if r.Limit <= 0 {
		return r, false, fmt.Errorf("rate %q: the limit must be positive", rate)
	}
	return r, true, nil
}
