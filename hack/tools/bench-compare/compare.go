package main

import (
	"errors"
	"fmt"
	"strings"
)

// report is what bench-compare reads of a hack/bench report: when it ran
// and each target's verdict, in the report's order.
type report struct {
	date    string
	targets []row
}

// row is one line of the Targets table.
type row struct {
	what, measured, verdict string
}

// word is the verdict's first word: met, missed, unresolved or measured.
func (r row) word() string {
	w, _, _ := strings.Cut(r.verdict, " ")
	return strings.TrimRight(w, ":(")
}

// parseReport reads the run table's date and the Targets table, whose rows
// are | what | target | measured | verdict |.
func parseReport(md string) (report, error) {
	var rep report
	section := ""
	for _, line := range strings.Split(md, "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section = h
			continue
		}
		cells, ok := tableCells(line)
		if !ok {
			continue
		}
		switch {
		case section == "" && len(cells) == 2 && cells[0] == "date":
			rep.date = cells[1]
		case section == "Targets" && len(cells) == 4 && cells[0] != "what":
			rep.targets = append(rep.targets, row{what: cells[0], measured: cells[2], verdict: cells[3]})
		}
	}
	if len(rep.targets) == 0 {
		return report{}, errors.New("no rows in a Targets section")
	}
	return rep, nil
}

// tableCells splits a Markdown table row into its trimmed cells; the
// separator row and anything else are not rows.
func tableCells(line string) ([]string, bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || strings.HasPrefix(line, "|---") {
		return nil, false
	}
	cells := strings.Split(line[1:len(line)-1], "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells, true
}

// compare says, for the rows the two reports share, how many verdicts
// agree and how many contradict (met in one, missed in the other), then
// lists every row that differs with both measurements, and the rows that
// only one report has.
func compare(base, next report) string {
	byWhat := map[string]row{}
	for _, r := range base.targets {
		byWhat[r.what] = r
	}
	var b strings.Builder
	shared, same, contradictions := 0, 0, 0
	var differ []string
	var onlyNext []string
	seen := map[string]bool{}
	for _, n := range next.targets {
		o, ok := byWhat[n.what]
		if !ok {
			onlyNext = append(onlyNext, n.what)
			continue
		}
		seen[n.what] = true
		shared++
		ow, nw := o.word(), n.word()
		if ow == nw {
			same++
			continue
		}
		mark := "differs"
		if (ow == "met" && nw == "missed") || (ow == "missed" && nw == "met") {
			mark, contradictions = "CONTRADICTS", contradictions+1
		}
		differ = append(differ, fmt.Sprintf("%s: %s\n    before: %s, %s\n    now:    %s, %s\n", mark, n.what, ow, o.measured, nw, n.measured))
	}
	fmt.Fprintf(&b, "verdicts against the report of %s: %d of %d shared rows the same, %d met in one run and missed in the other\n",
		orUnknown(base.date), same, shared, contradictions)
	for _, d := range differ {
		b.WriteString(d)
	}
	for _, o := range base.targets {
		if !seen[o.what] {
			fmt.Fprintf(&b, "only before: %s\n", o.what)
		}
	}
	for _, w := range onlyNext {
		fmt.Fprintf(&b, "only now: %s\n", w)
	}
	return b.String()
}

func orUnknown(date string) string {
	if date == "" {
		return "an unknown date"
	}
	return date
}
