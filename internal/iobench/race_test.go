//go:build race

package iobench

// raceEnabled: the race detector makes escape analysis keep fewer values
// on the stack, so allocation counts do not hold under it.
const raceEnabled = true
