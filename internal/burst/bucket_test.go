package burst

import "testing"

// A bucket of two seconds holds less than three ticks at the burst rate: it
// must not re-arm on the crumb of refill just above where it stopped, or a
// writer at the baseline flaps between the two limits every tick.
func TestSmallBucketDoesNotFlap(t *testing.T) {
	const tick = 0.25
	b := newBucket(8, 40, 2) // capacity 64, one tick at the burst rate takes 8
	for i := 0; b.bursting; i++ {
		b.charge(40*tick, tick) // a writer at the burst rate
		b.decide(tick)
		if i > 20 {
			t.Fatal("a full-speed writer never drained the bucket")
		}
	}
	if b.balance > b.lowWater(tick) {
		t.Fatalf("stopped at %.1f, above the low water %.1f", b.balance, b.lowWater(tick))
	}
	b.charge(0, tick) // one idle tick refills 2
	if b.decide(tick); b.bursting {
		t.Fatalf("re-armed at %.1f of 64 after one idle tick", b.balance)
	}
	for b.balance < 2*b.lowWater(tick) {
		b.charge(0, tick)
	}
	if b.decide(tick); !b.bursting {
		t.Fatalf("not re-armed at %.1f, two ticks at the burst rate", b.balance)
	}
}

// A bucket of a minute re-arms at a tenth of its capacity, as documented.
func TestLargeBucketRearmsAtATenth(t *testing.T) {
	b := newBucket(8, 40, 60)
	b.balance, b.bursting = 0.099*b.capacity, false
	if b.decide(0.25); b.bursting {
		t.Fatal("re-armed below a tenth")
	}
	b.balance = 0.1 * b.capacity
	if b.decide(0.25); !b.bursting {
		t.Fatal("not re-armed at a tenth")
	}
}
