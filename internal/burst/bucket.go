package burst

// bucket is one limit's credit bucket, in the limit's unit (bytes or IOs).
//
// The model: a full bucket holds (rate - baseline) * seconds. Each interval
// of dt seconds in which the group used u units changes the balance by
// baseline*dt - u: above the baseline it drains, below it refills, never
// under zero nor over the capacity. It starts full.
//
// The kernel holds the rate while the bucket bursts and the baseline
// otherwise, with hysteresis:
//   - bursting stops when the balance would not outlast the next tick at
//     the burst rate (lowWater): the kernel gets the baseline before the
//     bucket runs dry, instead of up to a tick after;
//   - bursting starts again only once the balance is back to rearmFraction
//     of the capacity, and to at least two ticks at the burst rate (for a
//     bucket of a few seconds one tick's credit is more than a tenth of it:
//     re-arming at a tenth there would stop the next tick again, at once).
//     Re-arming at any credit would make a writer that
//     keeps the group at its baseline flap between the two limits on every
//     crumb of refill, each flap a kernel write and a burst too short to
//     matter, while lowering a limit takes the kernel a moment (queued IO
//     drains first).
type bucket struct {
	baseline, rate float64 // units per second
	capacity       float64 // units
	balance        float64 // units
	bursting       bool
}

// rearmFraction of a full bucket must be back before a drained bucket
// bursts again: a tenth of burstSeconds at the burst rate.
const rearmFraction = 0.1

// fullFraction: a bucket counts as full again from here (refill is
// continuous; exactly full may take a sample longer to reach).
const fullFraction = 0.999

func newBucket(baseline, rate, seconds float64) bucket {
	c := (rate - baseline) * seconds
	return bucket{baseline: baseline, rate: rate, capacity: c, balance: c, bursting: true}
}

// reshape gives the bucket a new baseline, rate or size (a live limit
// edit, an expansion of a per-GiB volume, new parameters), keeping the
// balance within the new capacity.
func (b *bucket) reshape(baseline, rate, seconds float64) {
	b.baseline, b.rate = baseline, rate
	b.capacity = (rate - baseline) * seconds
	b.balance = min(b.balance, b.capacity)
}

// charge applies dt seconds in which the group used used units.
func (b *bucket) charge(used, dt float64) {
	b.balance = min(max(b.balance+b.baseline*dt-used, 0), b.capacity)
}

// decide applies the hysteresis for a controller that looks again in tick
// seconds, and reports whether the kernel must change.
func (b *bucket) decide(tick float64) bool {
	was := b.bursting
	if b.bursting {
		b.bursting = b.balance > b.lowWater(tick)
	} else {
		b.bursting = b.balance >= b.rearm(tick)
	}
	return was != b.bursting
}

// rearm is the balance from which a drained bucket bursts again.
func (b *bucket) rearm(tick float64) float64 {
	return max(rearmFraction*b.capacity, 2*b.lowWater(tick))
}

// lowWater is what one more tick at the burst rate would take.
func (b *bucket) lowWater(tick float64) float64 { return (b.rate - b.baseline) * tick }

func (b *bucket) full() bool { return b.balance >= fullFraction*b.capacity }
