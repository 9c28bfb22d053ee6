package elastic

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/csi-blkio/csi-blkio/internal/testutil"
)

// The kernel test's IO runs in re-executed copies of the test binary, one
// per container cgroup (v1 throttles only the tasks directly in a limited
// cgroup). ioHelperEnv selects the job; see runIOHelper.
const ioHelperEnv = "CSIBLKIO_ELASTIC_IO"

// ioWindow is what one helper did in one window of ioWindowLen.
const ioWindowLen = 100 * time.Millisecond

type ioWindow struct {
	IOs   int           `json:"ios"`
	Bytes int64         `json:"bytes"`
	P99   time.Duration `json:"p99"`
}

// ioReport is a helper's output: its windows from Start, and the latency
// of every IO (for the victim's percentiles).
type ioReport struct {
	Start   time.Time     `json:"start"`
	Windows []ioWindow    `json:"windows"`
	Lats    []int64       `json:"lats,omitempty"` // nanoseconds
	Ends    []int64       `json:"ends,omitempty"` // completion, nanoseconds after Start
	Took    time.Duration `json:"took"`
}

func TestMain(m *testing.M) {
	if job := os.Getenv(ioHelperEnv); job != "" {
		if err := runIOHelper(job); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runIOHelper runs "victim DEV SECONDS REGION" (random 4 KiB direct reads
// at queue depth 1, every latency kept) or "aggressor DEV SECONDS REGION"
// (sequential 1 MiB direct writes) and prints an ioReport.
func runIOHelper(job string) error {
	var kind, dev string
	var secs float64
	var region int64
	if _, err := fmt.Sscan(job, &kind, &dev, &secs, &region); err != nil {
		return fmt.Errorf("job %q: %w", job, err)
	}
	bs := 4096
	flags := os.O_RDONLY
	if kind == "aggressor" {
		bs, flags = 1<<20, os.O_WRONLY
	}
	f, err := os.OpenFile(dev, flags|unix.O_DIRECT, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	buf, err := unix.Mmap(-1, 0, bs, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return err
	}
	rep := ioReport{Start: time.Now()}
	end := rep.Start.Add(time.Duration(secs * float64(time.Second)))
	var lats []time.Duration
	var off int64
	for {
		t0 := time.Now()
		if !t0.Before(end) {
			break
		}
		if kind == "aggressor" {
			_, err = f.WriteAt(buf, off)
			off = (off + int64(bs)) % region
		} else {
			_, err = f.ReadAt(buf, rand.Int64N(region/int64(bs))*int64(bs))
		}
		if err != nil {
			return err
		}
		t1 := time.Now()
		w := int(t1.Sub(rep.Start) / ioWindowLen)
		for len(rep.Windows) <= w {
			rep.Windows = append(rep.Windows, ioWindow{})
			lats = lats[:0]
		}
		rep.Windows[w].IOs++
		rep.Windows[w].Bytes += int64(bs)
		lats = append(lats, t1.Sub(t0))
		rep.Windows[w].P99 = percentile(lats, 0.99)
		if kind == "victim" {
			rep.Lats = append(rep.Lats, int64(t1.Sub(t0)))
			rep.Ends = append(rep.Ends, int64(t1.Sub(rep.Start)))
		}
	}
	rep.Took = time.Since(rep.Start)
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// percentile of ds (not sorted in place).
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// ioJob is a started helper.
type ioJob struct {
	out  *os.File
	wait func() error
	path string
}

// startIO starts a helper in cgroup dir.
func startIO(t *testing.T, dir, kind, dev string, d time.Duration, region int64) *ioJob {
	t.Helper()
	cmd := testutil.CommandInCgroup(t, dir, os.Args[0], "-test.run=^$")
	out, err := os.CreateTemp(t.TempDir(), "io-*.json")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, os.Stderr
	cmd.Env = append(os.Environ(), ioHelperEnv+"="+kind+" "+dev+" "+strconv.FormatFloat(d.Seconds(), 'f', 3, 64)+" "+strconv.FormatInt(region, 10))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &ioJob{out: out, wait: cmd.Wait, path: out.Name()}
}

func (j *ioJob) report(t *testing.T) ioReport {
	t.Helper()
	if err := j.wait(); err != nil {
		t.Fatalf("IO helper: %v", err)
	}
	j.out.Close()
	b, err := os.ReadFile(j.path)
	if err != nil {
		t.Fatal(err)
	}
	var r ioReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("IO helper output %q: %v", b, err)
	}
	return r
}

// iops and p99 of the victim's IOs that completed in [from, to) after its
// start (to <= 0: until the end).
func (r ioReport) victimFigures(from, to time.Duration) (iops float64, p99 time.Duration) {
	var lats []time.Duration
	for i, l := range r.Lats {
		at := time.Duration(r.Ends[i])
		if at >= from && (to <= 0 || at < to) {
			lats = append(lats, time.Duration(l))
		}
	}
	span := r.Took - from
	if to > 0 {
		span = to - from
	}
	return float64(len(lats)) / span.Seconds(), percentile(lats, 0.99)
}

// rate in bytes per second over the windows in [from, to) after Start.
func (r ioReport) rate(from, to time.Duration) float64 {
	var b int64
	n := 0
	for i, w := range r.Windows {
		at := time.Duration(i) * ioWindowLen
		if at >= from && (to <= 0 || at < to) {
			b += w.Bytes
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(b) / (time.Duration(n) * ioWindowLen).Seconds()
}
