// Command bench-compare sets the verdicts of two hack/bench reports side by
// side, row by row of their Targets tables, and says how many agree:
//
//	go run ./hack/tools/bench-compare BASELINE.md REPORT.md
//
// A figure measured in rounds is met, missed or unresolved (its median's
// interval holds the goal), so two runs of a figure that lies near its goal
// can differ by one step without contradicting each other; a row met in one
// run and missed in the other is a contradiction, and is counted apart.
// hack/bench runs it after a full run, against the report it replaces.
//
// It exits 0 whatever the verdicts (they are figures, not failures) and 1
// only when a report cannot be read or has no Targets table.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bench-compare BASELINE.md REPORT.md")
		os.Exit(2)
	}
	var reports [2]report
	for i, path := range os.Args[1:] {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench-compare:", err)
			os.Exit(1)
		}
		if reports[i], err = parseReport(string(b)); err != nil {
			fmt.Fprintf(os.Stderr, "bench-compare: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
	fmt.Print(compare(reports[0], reports[1]))
}
