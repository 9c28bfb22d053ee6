package kube

import (
	"io"
	"net"
	"sync"
	"testing"
)

// proxyMode is what the apiserver looks like to the plugin.
type proxyMode int

const (
	// healthy: bytes flow both ways between the plugin and the apiserver.
	healthy proxyMode = iota
	// stopped: nothing listens on the port (connection refused), and open
	// connections are closed, as when the apiserver process is stopped.
	stopped
	// hung: the port accepts connections and never answers; open
	// connections go silent, as with an apiserver stuck behind a listener.
	hung
)

func (m proxyMode) String() string { return [...]string{"healthy", "stopped", "hung"}[m] }

// apiProxy is a TCP forwarder on a loopback port in front of the real
// apiserver. The plugin's kubeconfig points at it, so a test can switch the
// apiserver between healthy, stopped and hung without touching the real one
// (other tests share it). TLS passes through untouched: the apiserver's
// certificate is for 127.0.0.1, which the proxy's address is too.
type apiProxy struct {
	addr, upstream string

	mu    sync.Mutex
	mode  proxyMode
	lis   net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newAPIProxy listens on a free loopback port; Cleanup closes everything.
func newAPIProxy(t *testing.T, upstream string) *apiProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &apiProxy{addr: lis.Addr().String(), upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.serve(lis)
	t.Cleanup(func() {
		p.mu.Lock()
		if p.lis != nil {
			p.lis.Close()
		}
		p.closeConns()
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// set switches the mode. Leaving stopped listens again on the same port.
func (p *apiProxy) set(t *testing.T, m proxyMode) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if m == p.mode {
		return
	}
	p.mode = m
	if m == stopped {
		p.lis.Close()
		p.lis = nil
	}
	p.closeConns() // stopped: refused; hung: the new connections hang too
	if m != stopped && p.lis == nil {
		lis, err := net.Listen("tcp", p.addr)
		if err != nil {
			t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
		}
		p.serveLocked(lis)
	}
}

func (p *apiProxy) serve(lis net.Listener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serveLocked(lis)
}

func (p *apiProxy) serveLocked(lis net.Listener) {
	p.lis = lis
	p.wg.Go(func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return // closed
			}
			p.mu.Lock()
			if p.lis != lis {
				// Stopped while this connection was being accepted: a stopped
				// apiserver has no connections.
				p.mu.Unlock()
				c.Close()
				return
			}
			mode := p.mode
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			if mode == hung {
				continue // accepted, never answered; closed on the next mode switch
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
}

func (p *apiProxy) forward(c net.Conn) {
	defer p.drop(c)
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer p.drop(up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src) // an error (reset, closed) ends the pipe like EOF
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done // either side closed: close both
}

func (p *apiProxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// closeConns closes every open connection. Called with mu held.
func (p *apiProxy) closeConns() {
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}
