package burst

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"k8s.io/klog/v2"

	"github.com/csi-blkio/csi-blkio/internal/atomicfile"
	"github.com/csi-blkio/csi-blkio/internal/throttle"
)

// savedGroup is a group's buckets as persisted: the balances as of
// SavedAt, with the counters read then, so that a restarted plugin charges
// the time it was down with what the kernel counted meanwhile. A restart
// thus neither refills a drained bucket nor empties a full one.
type savedGroup struct {
	VolumeID string                 `json:"volumeID"`
	PodUID   string                 `json:"podUID,omitempty"`
	SavedAt  time.Time              `json:"savedAt"`
	Counters throttle.Counters      `json:"counters"`
	Buckets  map[string]savedBucket `json:"buckets"`
}

type savedBucket struct {
	Balance  float64 `json:"balance"`
	Bursting bool    `json:"bursting"`
}

// savedKeep is how long a persisted group waits for the restarted plugin
// to track it again (start-up recovery re-publishes within seconds); one
// that never comes back was unpublished while the plugin was down.
const savedKeep = 10 * time.Minute

// store is the file that holds every group's buckets, rewritten whole and
// atomically (internal/atomicfile), like the volume records.
type store struct {
	path    string
	started time.Time
}

func (s *store) load() (map[throttle.Key]savedGroup, error) {
	s.started = time.Now()
	out := map[throttle.Key]savedGroup{}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	var list []savedGroup
	if err := json.Unmarshal(data, &list); err != nil {
		return out, fmt.Errorf("parse %s: %w", s.path, err)
	}
	for _, g := range list {
		out[throttle.Key{VolumeID: g.VolumeID, PodUID: g.PodUID}] = g
	}
	return out, nil
}

func (s *store) save(list []savedGroup) error {
	data, err := json.Marshal(list)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(s.path, data)
}

// persist writes every tracked group's buckets, and the persisted groups
// not tracked again yet. Called on the goroutine that runs step, which owns
// the groups' buckets.
func (c *Controller) persist(ctx context.Context) {
	if c.store == nil {
		return
	}
	var list []savedGroup
	for _, e := range c.snapshot() {
		g := e.g
		if g.resume != nil {
			list = append(list, *g.resume) // not sampled since the restart
			continue
		}
		if !g.primed {
			continue
		}
		sg := savedGroup{VolumeID: e.key.VolumeID, PodUID: e.key.PodUID, SavedAt: g.lastAt, Counters: g.last, Buckets: map[string]savedBucket{}}
		for i, b := range g.buckets {
			if b != nil {
				sg.Buckets[knobNames[i]] = savedBucket{Balance: b.balance, Bursting: b.bursting}
			}
		}
		list = append(list, sg)
	}
	c.mu.Lock()
	keep := time.Since(c.store.started) < savedKeep
	if !keep {
		clear(c.saved)
	}
	for _, s := range c.saved {
		list = append(list, s)
	}
	c.mu.Unlock()
	if len(list) == 0 && c.savedEmpty {
		return // a node without bursts writes nothing, again and again
	}
	c.savedEmpty = len(list) == 0
	if err := c.store.save(list); err != nil {
		klog.FromContext(ctx).Error(err, "Persisting burst buckets failed; retried in a moment", "file", c.store.path)
	}
}
