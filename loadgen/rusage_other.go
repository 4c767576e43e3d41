//go:build !unix

package loadgen

import "time"

// cpuTime is unavailable here; reports show zero CPU.
func cpuTime() (user, sys time.Duration) { return 0, 0 }
