//go:build race

// Package race tells tests whether the race detector is on: it makes escape
// analysis keep fewer values on the stack, so allocation counts do not hold
// under it.
package race

// Enabled is true in a build with -race.
const Enabled = true
