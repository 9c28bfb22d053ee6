// Command pause is the sandbox ("infra") container of the test node's pods.
// The upstream pause image comes from a registry this project cannot use, so
// hack/images/pause.sh builds this one. It holds the pod's namespaces by
// staying alive, reaps children re-parented to it (it is PID 1 of the pod's
// PID namespace when the pod shares one), and exits 0 on SIGINT or SIGTERM.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every exited child without blocking.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
