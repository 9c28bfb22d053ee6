// Package throttletest holds what the tests of the packages that sit on the
// throttle core share: a table closed when the test ends, and a table of
// group snapshots for the readers tested without a kernel. It is a package
// of its own, not part of internal/testutil, because the throttle package's
// own tests import testutil: testutil cannot import throttle without a cycle.
package throttletest
