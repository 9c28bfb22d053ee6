//go:build bench

package bench

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// neighbourVariant is one kind of aggressor.
type neighbourVariant struct {
	name     string
	scope    string // of the aggressor's limited volume
	buffered bool
	job      job
	what     string // for the report
}

func neighbourVariants() []neighbourVariant {
	size := pick(gib, 64*mib)
	bufSize := pick(256*mib, 32*mib) // bounds what is left dirty after a phase
	vs := []neighbourVariant{{
		name: "direct", scope: "pod", job: job{rw: "randwrite", bs: "64k", depth: 32, size: size},
		what: "64k random writes, direct IO, libaio iodepth 32, `scope: pod`",
	}, {
		name: "buffered", scope: "volume", buffered: true,
		job:  job{rw: "randwrite", bs: "64k", engine: "psync", buffered: true, size: bufSize, extra: []string{"--fsync=32"}},
		what: "64k random writes through the page cache with an fsync every 32 writes (psync), `scope: volume`",
	}}
	if cfg.smoke {
		return vs[:1]
	}
	return vs
}

// phases of one comparison, in the order they run.
var phases = []string{"alone", "unthrottled aggressor", "throttled aggressor"}

// TestNoisyNeighbour (issue 10): a victim doing 4k random reads at queue
// depth 1 on one csi-blkio volume, an aggressor writing to a second volume
// on the same disk; victim alone, with the aggressor on a volume without
// limits, and with the aggressor on a volume limited to 100 MiB/s writes.
// Every process runs in a container cgroup below its own pod cgroup.
func TestNoisyNeighbour(t *testing.T) {
	e := newEnv(t, nil)
	runtime := pick(4*time.Second, time.Second)
	const limit = "100Mi"

	victimSize := pick(256*mib, 32*mib)
	victimVol := e.volume(gib, nil)
	vname := filepath.Base(fill(t, filepath.Join(victimVol.staging, "data"), victimSize))
	vuid, vpod := e.pod()
	victimFile := filepath.Join(victimVol.publish(vuid), vname)
	victimCtr := e.container(vpod, "ctr-victim")
	victim := job{rw: "randread", bs: "4k", engine: "psync", depth: 1, size: victimSize, runtime: runtime, ramp: 500 * time.Millisecond}

	var b strings.Builder
	fmt.Fprintf(&b, "Victim: fio 4k random reads, direct IO, queue depth 1 (psync), %v after a 0.5 s ramp, on a csi-blkio volume "+
		"without limits. Aggressor: fio on a second csi-blkio volume of the same disk (both backing files on the host filesystem), "+
		"started 1 s before the victim; \"unthrottled\" uses a volume without limits, \"throttled\" one with `writeBytesPerSecond: %s`. "+
		"Victim and aggressors are separate pods (kubelet-style pod cgroups, fio in a container cgroup below each). "+
		"Median of %d rounds, phases interleaved.\n", runtime, limit, cfg.reps)
	var targets []target
	for _, nv := range neighbourVariants() {
		free := e.volume(gib, nil)
		limited := e.volume(gib, map[string]string{"writeBytesPerSecond": limit, "scope": nv.scope})
		aggFile := map[string]string{}
		aggCtr := map[string]string{}
		for phase, v := range map[string]*vol{phases[1]: free, phases[2]: limited} {
			name := filepath.Base(fill(t, filepath.Join(v.staging, "aggressor"), nv.job.size))
			uid, pod := e.pod()
			aggFile[phase] = filepath.Join(v.publish(uid), name)
			aggCtr[phase] = e.container(pod, "ctr-aggressor")
		}
		waitLimit(t, aggCtr[phases[2]], "write_bps_device", limited.device(), 100*uint64(mib))

		type run struct {
			iops, agg      []float64
			p50, p99, p999 []time.Duration
		}
		runs := map[string]*run{}
		for _, p := range phases {
			runs[p] = &run{}
		}
		for range cfg.reps {
			for _, p := range phases {
				var agg *fioRun
				if p != phases[0] {
					j := nv.job
					j.runtime = runtime + victim.ramp + 1500*time.Millisecond
					agg = startFio(t, aggCtr[p], aggFile[p], j)
					time.Sleep(time.Second)
				}
				r := runFio(t, victimCtr, victimFile, victim)
				ph := runs[p]
				ph.iops, ph.p50, ph.p99, ph.p999 = append(ph.iops, r.iops), append(ph.p50, r.p50), append(ph.p99, r.p99), append(ph.p999, r.p999)
				if agg != nil {
					ph.agg = append(ph.agg, agg.wait().bw)
					if nv.buffered { // what is still dirty is flushed before the next phase, not during it
						if out, err := exec.Command("sync", "-f", aggFile[p]).CombinedOutput(); err != nil {
							t.Fatalf("sync -f %s: %v\n%s", aggFile[p], err, out)
						}
					}
				}
				t.Logf("%s, %s: victim %.0f IOPS p99 %v", nv.name, p, r.iops, r.p99)
			}
		}

		alone := runs[phases[0]]
		aIOPS, aP99 := median(alone.iops), medianDur(alone.p99)
		var rows [][]string
		for _, p := range phases {
			ph := runs[p]
			iops, p99 := median(ph.iops), medianDur(ph.p99)
			aggBW := "-"
			if len(ph.agg) > 0 {
				aggBW = mibps(median(ph.agg))
			}
			rows = append(rows, []string{p, fmt.Sprintf("%.0f", iops), us(medianDur(ph.p50)), us(p99), us(medianDur(ph.p999)),
				ratio(iops / aIOPS), times(float64(p99) / float64(aP99)), aggBW})
		}
		fmt.Fprintf(&b, "\nAggressor: %s.\n\n", nv.what)
		b.WriteString(table([]string{"phase", "victim IOPS", "p50", "p99", "p99.9", "IOPS ÷ alone", "p99 ÷ alone", "aggressor writes"}, rows))

		thr, unthr := runs[phases[2]], runs[phases[1]]
		ti, tp := median(thr.iops)/aIOPS, float64(medianDur(thr.p99))/float64(aP99)
		ui, up := median(unthr.iops)/aIOPS, float64(medianDur(unthr.p99))/float64(aP99)
		verdict := "met"
		if ti < 0.9 || tp > 1.5 {
			verdict = fmt.Sprintf("missed (IOPS %s, p99 %s)", verdictAtLeast(ti, 0.9), verdictAtMost(tp, 1.5))
		}
		damage := "met"
		if ui > 0.8 && up < 2 {
			damage = "missed: no clear damage in this run"
		}
		targets = append(targets,
			target{What: fmt.Sprintf("noisy neighbour (%s aggressor): victim with the aggressor throttled", nv.name),
				Goal: ">= 0.9 of alone IOPS, p99 <= 1.5x alone", Measured: fmt.Sprintf("IOPS %s, p99 %s", ratio(ti), times(tp)), Verdict: verdict},
			target{What: fmt.Sprintf("noisy neighbour (%s aggressor): damage without limits visible", nv.name),
				Goal: "visible (read here as IOPS < 0.8 or p99 > 2x alone)", Measured: fmt.Sprintf("IOPS %s, p99 %s", ratio(ui), times(up)), Verdict: damage},
		)
		free.teardown()
		limited.teardown()
	}
	b.WriteString("\nIssue 10 measured with bare tools on a quiet machine: victim alone 16.8k IOPS, p99 82 us; with an unthrottled " +
		"direct-IO aggressor (3.2 GB/s) 2.7k IOPS, p99 741 us; with the aggressor's cgroup at 100 MiB/s 15.8k IOPS, p99 111 us.\n")
	save(t, section{Order: 6, Title: "Noisy neighbour (issue 10)", Body: b.String(), Targets: targets})
}
