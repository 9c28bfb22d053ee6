//go:build bench

package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// host describes the machine the figures were taken on.
type host struct {
	date    time.Time
	kernel  string
	machine string
	disk    string
	load    string
}

func captureHost() host {
	h := host{date: time.Now(), load: loadAvg(), disk: diskOf(os.TempDir())}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		h.kernel = unix.ByteSliceToString(u.Release[:])
	}
	h.machine = fmt.Sprintf("%d CPUs (%s), %s memory", runtime.NumCPU(), cpuModel(), memTotal())
	return h
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	return "unknown"
}

// diskOf names the block device under dir (where the volumes' backing
// files live) with its model when the kernel knows one.
func diskOf(dir string) string {
	real, err := diskSysDir(dir)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	name := filepath.Base(real)
	read := func(rel string) string {
		b, _ := os.ReadFile(filepath.Join(real, rel))
		return strings.TrimSpace(string(b))
	}
	model := read("device/model")
	if model == "" {
		model = "model not reported"
		if drv, err := filepath.EvalSymlinks(filepath.Join(real, "device", "driver")); err == nil {
			model += ", driver " + filepath.Base(drv)
		}
	}
	kind := "rotational=" + read("queue/rotational")
	size, _ := strconv.ParseFloat(read("size"), 64)
	return fmt.Sprintf("%s (%s, %s, %.0f GiB), holds %s", name, model, kind, size*512/(1<<30), dir)
}

// diskSysDir is the sysfs directory of the whole disk under dir (the disk,
// not the partition, whose queue the volumes' backing files share).
func diskSysDir(dir string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		return "", fmt.Errorf("%s is not on a block device", dir)
	}
	if _, err := os.Stat(filepath.Join(real, "partition")); err == nil {
		real = filepath.Dir(real)
	}
	return real, nil
}
