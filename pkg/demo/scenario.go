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

// scenarios lists the stories, the default first.
func scenarios() []Scenario {
	return []Scenario{
		{Name: "throttle", Summary: "one limited and one unlimited volume, IO from a container: achieved vs limit", Run: runThrottle},
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
