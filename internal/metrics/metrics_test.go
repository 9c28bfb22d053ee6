package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"k8s.io/client-go/util/workqueue"

	"github.com/csi-blkio/csi-blkio/internal/throttle"
	"github.com/csi-blkio/csi-blkio/internal/throttle/throttletest"
)

// TestServerScrape serves a registry with every kind of metric on a free
// loopback port and scrapes it over HTTP, as Prometheus would.
func TestServerScrape(t *testing.T) {
	m := New()
	g := throttletest.NewGroups()
	g.Set(activeGroup("vol-a", "uid-1", "writer", throttle.Limits{WriteIOPS: 500}, throttle.Stats{WriteIOs: 7}))
	if err := m.AddGroups(g, func() uint64 { return 0 }); err != nil {
		t.Fatal(err)
	}
	m.ObserveRPC("NodePublishVolume", codes.OK, 3*time.Millisecond)
	m.ObserveRPC("NodePublishVolume", codes.InvalidArgument, 100*time.Microsecond)
	m.ThrottleGroupWrite("status")
	m.APIServerPaused(true)
	m.Recovered([]string{"group_restored", "orphan_loop_detached"}, map[string]int{"group_restored": 2})

	q := workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[string]{Name: "csi_blkio_stats", MetricsProvider: m.WorkqueueProvider()})
	defer q.ShutDown()
	q.Add("a")
	q.Add("b")

	srv, err := m.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	resp, err := http.Get("http://" + srv.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{
		`csi_blkio_group_write_ios_total{namespace="team-a",pod="writer",pod_uid="uid-1",volume_id="vol-a"} 7`,
		`csi_blkio_group_limit_write_iops{namespace="team-a",pod="writer",pod_uid="uid-1",volume_id="vol-a"} 500`,
		`csi_blkio_grpc_request_duration_seconds_count{code="OK",method="NodePublishVolume"} 1`,
		`csi_blkio_grpc_request_duration_seconds_bucket{code="InvalidArgument",method="NodePublishVolume",le="0.00025"} 1`,
		`workqueue_adds_total{name="csi_blkio_stats"} 2`,
		`csi_blkio_throttlegroup_writes_total{verb="status"} 1`,
		"csi_blkio_apiserver_paused 1",
		`csi_blkio_recovery_actions_total{action="group_restored"} 2`,
		`csi_blkio_recovery_actions_total{action="orphan_loop_detached"} 0`,
		`workqueue_depth{name="csi_blkio_stats"} 2`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestListenRefusesBadAddress(t *testing.T) {
	if _, err := New().Listen("127.0.0.1:notaport"); err == nil {
		t.Fatal("Listen accepted a bad address")
	}
}
