// Command etcd is the etcd server built from the published etcd module.
// `go install go.etcd.io/etcd/server/v3` refuses because etcd's own go.mod
// carries replace directives; this wrapper module depends on the server
// module instead and calls the same entry point the etcd binary uses.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
