package transport

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrTTL is returned for a TTL the wire cannot carry faithfully.
var ErrTTL = errors.New("ttl out of range")

// MaxTTL is the longest TTL the wire's int32 seconds can hold.
const MaxTTL = time.Duration(math.MaxInt32) * time.Second

// WireTTL converts ttl to the whole seconds the server expects, rounding a
// fraction up: the server would read 0 as "use your default", so truncating a
// sub-second TTL would silently ask for the wrong lease. Rounding up is safe
// because the client keeps its local deadline on the shorter, exact ttl.
func WireTTL(ttl time.Duration) (int32, error) {
	if ttl < time.Second {
		return 0, fmt.Errorf("%w: %v is below the 1s the wire can express", ErrTTL, ttl)
	}
	if ttl > MaxTTL {
		return 0, fmt.Errorf("%w: %v exceeds the wire's maximum of %v", ErrTTL, ttl, MaxTTL)
	}
	secs := (ttl + time.Second - 1) / time.Second
	return int32(secs), nil
}
