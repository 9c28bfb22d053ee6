package throttle

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// peakWriteRate watches the written sectors of /dev/loop<index> while run
// runs and returns the highest write rate over any stretch of at least
// window between two readings, or over the whole run when it was shorter.
//
// A flush's mean rate tells throttled from unthrottled only on an idle
// machine: beside CPU burners the kernel threads that flush wait so long
// for a CPU that an unthrottled flush can average less than the limit.
// Its peak still gives it away: once they run, an unthrottled flush moves
// at disk speed, while a held one never gets more than the limit over a
// window much longer than blk-throttle's 100 ms slice (measured over 0.5 s:
// held flushes peaked at 1.5x the limit, unthrottled ones beside 8 nice -5
// CPU burners at 2.9-6x while averaging about 1x). A late reading
// only lengthens the stretch it closes, which lowers the figure, so the
// sampler's own wait for a CPU cannot make an escape of a held flow.
func peakWriteRate(t *testing.T, index int, window time.Duration, run func()) float64 {
	t.Helper()
	type reading struct {
		at    time.Time
		bytes uint64
	}
	path := fmt.Sprintf("/sys/block/loop%d/stat", index)
	read := func() reading {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			return reading{at: time.Now()}
		}
		// Field 7 of the block stat file is sectors written (512 bytes).
		f := strings.Fields(string(b))
		if len(f) < 7 {
			t.Errorf("%s: %q has no write sectors field", path, b)
			return reading{at: time.Now()}
		}
		n, err := strconv.ParseUint(f[6], 10, 64)
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
		return reading{at: time.Now(), bytes: n * 512}
	}
	stop, done := make(chan struct{}), make(chan []reading)
	go func() {
		rs := []reading{read()}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- append(rs, read())
				return
			case <-tick.C:
				rs = append(rs, read())
			}
		}
	}()
	run()
	close(stop)
	rs := <-done
	first, last := rs[0], rs[len(rs)-1]
	peak := float64(last.bytes-first.bytes) / last.at.Sub(first.at).Seconds()
	for i, j := 0, 0; j < len(rs); j++ {
		// i is the latest reading at least window before j.
		for i+1 < j && rs[j].at.Sub(rs[i+1].at) >= window {
			i++
		}
		if dt := rs[j].at.Sub(rs[i].at); dt >= window {
			peak = max(peak, float64(rs[j].bytes-rs[i].bytes)/dt.Seconds())
		}
	}
	return peak
}
