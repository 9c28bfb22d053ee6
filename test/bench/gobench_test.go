//go:build bench

package bench

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// goBench is one benchmark of hack/bench's rounds of `go test -bench`: the
// name without the -GOMAXPROCS suffix and its metrics by unit (ns/op,
// p99-us, ...), one map per round in the order they ran. The k-th result
// of every benchmark belongs to round k: hack/bench runs the whole set,
// baselines included, once per round.
type goBench struct {
	name   string
	rounds []map[string]float64
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parseGoBench reads the result lines of a `go test -bench` output.
func parseGoBench(path string) (map[string]goBench, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]goBench{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue // not a result line
		}
		name := procSuffix.ReplaceAllString(fields[0], "")
		m := map[string]float64{}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			m[fields[i+1]] = v
		}
		b := out[name]
		b.name, b.rounds = name, append(b.rounds, m)
		out[name] = b
	}
	return out, sc.Err()
}
