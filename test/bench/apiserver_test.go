//go:build bench

package bench

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/iobench"
)

// The Kubernetes tier's TestApiserverWritesAtSteadyState (test/kube) logs
// one line with its figures; hack/bench runs it and hands its output over.
var (
	steadyLine = regexp.MustCompile(`apiserver writes per group at steady state over (\S+) \(stats interval (\S+), [^)]*\): ThrottleGroup (.*); Events (\d+) in all \(([\d.]+) per group per minute\)`)
	steadyTG   = regexp.MustCompile(`(\w+) (\d+) \(([\d.]+)/min\)`)
)

// apiserverSection quotes the apiserver write rate from the Kubernetes
// tier (a real apiserver), or says that it was not run.
func apiserverSection() (section, error) {
	sec := section{Order: 5, Title: "apiserver writes per group per minute"}
	goal := "<= 1"
	what := "apiserver writes per group per minute at steady state"
	if cfg.kube == "" {
		sec.Body = "Not measured in this run: the figure comes from the Kubernetes integration tier against a real " +
			"kube-apiserver (`hack/test-kube.sh -run TestApiserverWritesAtSteadyState`), which `hack/bench` runs unless " +
			"given `--no-kube` (and never with `--smoke`).\n"
		sec.Targets = []target{{What: what, Goal: goal, Measured: "from the kube tier", Verdict: "not measured in this run"}}
		return sec, nil
	}
	if err := waitKube(cfg.kube); err != nil {
		return sec, err
	}
	out, err := os.ReadFile(cfg.kube)
	if err != nil {
		return sec, err
	}
	m := steadyLine.FindStringSubmatch(string(out))
	if m == nil {
		return sec, fmt.Errorf("%s has no line of TestApiserverWritesAtSteadyState's figures", cfg.kube)
	}
	var rows [][]string
	worst := 0.0
	for _, g := range steadyTG.FindAllStringSubmatch(m[3], -1) {
		perMin, _ := strconv.ParseFloat(g[3], 64)
		worst = max(worst, perMin)
		rows = append(rows, []string{g[1], g[2], g[3]})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From the Kubernetes integration tier, run by `hack/bench` in this run (`hack/test-kube.sh -run "+
		"TestApiserverWritesAtSteadyState`, test/kube/steady_test.go): a real kube-apiserver and etcd on loopback, csi-blkio "+
		"as its own process with the production coalescing and a stats interval of %s (the default is 10 s: more "+
		"chances to write), three groups — a writer held at its limit, a writer bursting to its limit and pausing, an idle volume — "+
		"once settled; every ThrottleGroup write counted from a watch over %s.\n\n", m[2], m[1])
	b.WriteString(table([]string{"group", "ThrottleGroup writes", "per minute"}, rows))
	fmt.Fprintf(&b, "\nEvents: %s in all (%s per group per minute).\n", m[4], m[5])
	sec.Body = b.String()
	sec.Targets = []target{{What: what, Goal: goal,
		Measured: fmt.Sprintf("ThrottleGroup: worst %.2f; Events %s", worst, m[5]), Verdict: iobench.AtMost(worst, 1)}}
	return sec, nil
}

// waitKube waits for the Kubernetes test that hack/bench runs beside the
// benchmarks: it writes its exit status to <log>.status when it ends.
func waitKube(log string) error {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		b, err := os.ReadFile(log + ".status")
		if err == nil {
			if st := strings.TrimSpace(string(b)); st != "0" {
				return fmt.Errorf("the Kubernetes steady-state test failed (exit %s); see %s", st, log)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Kubernetes steady-state test did not end within 10 minutes of the benchmarks; see %s", log)
		}
		time.Sleep(time.Second)
	}
}
