package demo

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
)

// gauge is what the live view shows of one IO process.
type gauge struct {
	Name string
	Unit Unit
	// Limit of this volume in the unit; 0 = unlimited.
	Limit float64
	// Scale is the limit all bars are drawn against (the limited volume's),
	// so that an unlimited volume shows how far past the limit it runs.
	Scale float64
	// Rate is over the last second; Elapsed and Duration are the IO's.
	Rate              float64
	Elapsed, Duration time.Duration
}

// windowRate is the rate over the reports of the last window (the total
// average until a window has passed).
func windowRate(reports []iobench.Report, u Unit, window time.Duration) float64 {
	if len(reports) < 2 {
		return 0
	}
	last := reports[len(reports)-1]
	first := reports[0]
	for i := len(reports) - 2; i >= 0; i-- {
		first = reports[i]
		if last.Elapsed-first.Elapsed >= window {
			break
		}
	}
	dt := (last.Elapsed - first.Elapsed).Seconds()
	if dt <= 0 {
		return 0
	}
	return (last.Amount(u) - first.Amount(u)) / dt
}

// barWidth is the width of a bar between its brackets; the limit mark sits
// at four fifths of it, leaving room to show a rate above the limit.
const barWidth = 40

// bar draws the rate against Scale: '#' up to the rate, '|' at the limit,
// and a '>' at the end when the rate runs off the bar.
func (g gauge) bar() string {
	mark := barWidth * 4 / 5
	b := []byte(strings.Repeat(" ", barWidth))
	b[mark] = '|'
	n := barWidth
	if g.Scale > 0 {
		n = int(g.Rate/g.Scale*float64(mark) + 0.5)
	}
	for i := 0; i < min(n, barWidth); i++ {
		b[i] = '#'
	}
	over := ""
	if n > barWidth {
		over = ">"
	}
	return "[" + string(b) + "]" + over
}

// against says how the rate compares with the limit, in words.
func (g gauge) against() string {
	switch {
	case g.Limit > 0:
		return fmt.Sprintf("%.2fx of its %s limit", g.Rate/g.Limit, formatRate(g.Unit, g.Limit))
	case g.Scale > 0 && g.Rate > 0:
		return fmt.Sprintf("no limit: %sx the other's limit", sigfig(g.Rate/g.Scale))
	}
	return "no limit"
}

// liveLines are the terminal view: one bar per gauge and a clock.
func liveLines(gs []gauge) []string {
	var out []string
	var elapsed, total time.Duration
	for _, g := range gs {
		out = append(out, fmt.Sprintf("  %-10s %-43s %12s  %s", g.Name, g.bar(), formatRate(g.Unit, g.Rate), g.against()))
		elapsed, total = max(elapsed, g.Elapsed), max(total, g.Duration)
	}
	return append(out, fmt.Sprintf("  %.1fs of %s", min(elapsed, total).Seconds(), total))
}

// plainLines are the log view: one line per gauge, printed once a second.
func plainLines(gs []gauge) []string {
	var out []string
	for _, g := range gs {
		out = append(out, fmt.Sprintf("  [%4.1fs] %-10s %12s  %s", g.Elapsed.Seconds(), g.Name, formatRate(g.Unit, g.Rate), g.against()))
	}
	return out
}

// liveView shows gauges as they change: redrawn in place on a terminal,
// appended once per second of IO otherwise (logs, CI, pipes).
type liveView struct {
	w     io.Writer
	tty   bool
	drawn int           // lines drawn last time (terminal)
	shown time.Duration // last whole second shown (plain)
}

// Interval is how often update should be called.
func (v *liveView) interval() time.Duration {
	if v.tty {
		return 100 * time.Millisecond
	}
	return 250 * time.Millisecond
}

func (v *liveView) update(gs []gauge) {
	if v.tty {
		lines := liveLines(gs)
		var b strings.Builder
		if v.drawn > 0 {
			fmt.Fprintf(&b, "\x1b[%dA", v.drawn) // back to the first line
		}
		for _, l := range lines {
			b.WriteString("\r\x1b[2K" + l + "\n")
		}
		v.drawn = len(lines)
		_, _ = io.WriteString(v.w, b.String()) // a terminal that cannot be written to has no one to tell
		return
	}
	var elapsed time.Duration
	for _, g := range gs {
		elapsed = max(elapsed, g.Elapsed)
	}
	if sec := elapsed.Truncate(time.Second); sec > v.shown {
		v.shown = sec
		_, _ = io.WriteString(v.w, strings.Join(plainLines(gs), "\n")+"\n")
	}
}
