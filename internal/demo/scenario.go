package demo

import (
	"context"
	"strings"
)

// Scenario is one story the demo can tell. Run uses the Session's
// building blocks (pods, volumes, containers, IO processes, the live view);
// whatever it creates through them is undone by the Session, so Run only
// returns its verdict: nil when the kernel did what the story claims.
type Scenario struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, s *Session) error
}

// scenarios lists the stories, the default first. To add one (like
// "neighbour"): write its Run from the Session's building blocks
// (NewPod, NewVolume, Publish, NewContainer, WaitForLimits, StartIO,
// watchIO), add its flags to Config, and list it here; `--scenario` picks
// it. A new measurement (latency percentiles) goes into iobench.Job and
// iobench.Report, which are the IO process's command line and output.
func scenarios() []Scenario {
	return []Scenario{
		{Name: "throttle", Summary: "one limited and one unlimited volume, IO from a container: achieved vs limit", Run: runThrottle},
		{Name: "neighbour", Summary: "a victim's read latency next to an aggressor writing without limits, then limited to --limit", Run: runNeighbour},
	}
}

func findScenario(name string) (Scenario, bool) {
	for _, sc := range scenarios() {
		if sc.Name == name {
			return sc, true
		}
	}
	return Scenario{}, false
}

func scenarioNames() string {
	var names []string
	for _, sc := range scenarios() {
		names = append(names, sc.Name)
	}
	return strings.Join(names, ", ")
}
