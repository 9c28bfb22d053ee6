//go:build bench

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// machineSample is what the disk holding the volumes' backing files and the
// machine's CPUs had done by one moment. Two of them, around a victim's
// run, say what else the machine did meanwhile: the neighbour section uses
// them to tell a busy disk from busy CPUs.
type machineSample struct {
	at   time.Time
	disk []uint64 // /sys/block/<disk>/stat
	busy uint64   // jiffies, all CPUs: not idle, not waiting for IO
	all  uint64   // jiffies, all CPUs
}

// The fields of a disk's stat file this file reads (Documentation/block/stat.rst).
const (
	statReads        = 0
	statWrites       = 4
	statSectorsWrite = 6
	statFlushes      = 15 // kernels since 5.5
	// statTimeInQueue is the milliseconds IOs spent in flight, summed
	// over the IOs: over a window, divided by its length, the average
	// number of IOs in flight at the device.
	statTimeInQueue = 10
)

// deviceStat is one field of dev's stat file.
func deviceStat(t *testing.T, dev throttle.Device, field int) uint64 {
	t.Helper()
	name := fmt.Sprintf("/sys/dev/block/%s/stat", dev)
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) <= field {
		t.Fatalf("%s: %q has no field %d", name, b, field)
	}
	n, err := strconv.ParseUint(f[field], 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func sampleMachine(t *testing.T, diskDir string) machineSample {
	t.Helper()
	s := machineSample{at: time.Now()}
	b, err := os.ReadFile(filepath.Join(diskDir, "stat"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			t.Fatalf("%s/stat: %v", diskDir, err)
		}
		s.disk = append(s.disk, n)
	}
	b, err = os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		t.Fatalf("/proc/stat: %q", line)
	}
	for i, v := range f[1:9] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("/proc/stat: %v", err)
		}
		s.all += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	return s
}

// machineRates are the rates between two samples.
type machineRates struct {
	writeBps, writeIOPS, readIOPS, flushes float64 // the disk, per second
	cpuBusy                                float64 // share of all CPUs, 0-1
}

func (a machineSample) to(b machineSample) machineRates {
	secs := b.at.Sub(a.at).Seconds()
	d := func(i int) float64 {
		if i >= len(a.disk) || i >= len(b.disk) {
			return 0
		}
		return float64(b.disk[i]-a.disk[i]) / secs
	}
	r := machineRates{writeBps: d(statSectorsWrite) * 512, writeIOPS: d(statWrites), readIOPS: d(statReads), flushes: d(statFlushes)}
	if b.all > a.all {
		r.cpuBusy = float64(b.busy-a.busy) / float64(b.all-a.all)
	}
	return r
}

// schedTimes sums, over the threads of the processes in cgroup, their time
// on a CPU and their time runnable in the run queue, waiting for one
// (/proc/<pid>/task/<tid>/schedstat). A thread that exits between two
// samples drops out of the second: sample a process that lives through both.
func schedTimes(t *testing.T, cgroup string) (run, wait time.Duration) {
	t.Helper()
	procs, err := os.ReadFile(filepath.Join(cgroup, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range strings.Fields(string(procs)) {
		tasks, _ := filepath.Glob(filepath.Join("/proc", pid, "task", "*", "schedstat"))
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // exited meanwhile
			}
			v := strings.Fields(string(b))
			if len(v) < 2 {
				continue
			}
			r, _ := strconv.ParseInt(v[0], 10, 64)
			w, _ := strconv.ParseInt(v[1], 10, 64)
			run, wait = run+time.Duration(r), wait+time.Duration(w)
		}
	}
	return run, wait
}
