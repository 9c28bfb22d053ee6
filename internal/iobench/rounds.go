package iobench

// Rounds measures n rounds. A round whose baseline was disturbed — the
// shared disk stalled, another build took the CPUs; disturbed judges it
// from the round's own baseline — is measured again, up to retries times
// over the n rounds; a round still disturbed then is marked and kept apart.
// Neither fails anything: a figure from a busy machine is reported with
// what disturbed it, not thrown away with the run. measure gets the round's
// index, to rotate the order of what it measures, so that no candidate
// always runs first.
func Rounds[T any](n, retries int, measure func(round int) T, disturbed func(T) bool) (kept, marked []T, retried int) {
	for i := 0; i < n; i++ {
		for {
			r := measure(i)
			if !disturbed(r) {
				kept = append(kept, r)
				break
			}
			if retried == retries {
				marked = append(marked, r)
				break
			}
			retried++
		}
	}
	return kept, marked, retried
}

// Reference judges a round by its baseline reading (the victim alone, say)
// against the readings seen before it: a reading under Fraction of their
// median was disturbed. Its first reading is never disturbed, so a
// Reference should serve every section that measures the same baseline:
// one started afresh takes whatever its first round met as the norm.
type Reference struct {
	Fraction float64
	seen     Spread
}

// Disturbed reports whether x is under Fraction of the median of the
// readings seen so far, and then counts x among them.
func (r *Reference) Disturbed(x float64) bool {
	disturbed := len(r.seen) > 0 && x < r.Fraction*r.seen.Median()
	r.seen = append(r.seen, x)
	return disturbed
}

// Mirrored is the order in which one block of a paired comparison runs n
// candidates: the n in turn, then back again without repeating the middle
// one (n = 3: a b c b a). Every candidate's runs sit at the block's centre
// on average, so a machine that speeds up or slows down steadily over the
// block favours none of them, as it does whichever runs first or last in a
// plain a b c. block rotates which candidate starts and which runs once.
func Mirrored(n, block int) []int {
	order := make([]int, 0, 2*n-1)
	for k := range n {
		order = append(order, (k+block)%n)
	}
	for k := n - 2; k >= 0; k-- {
		order = append(order, order[k])
	}
	return order
}
