// Package throttletest holds what the tests of the packages that sit on the
// throttle core share. It is a package of its own, not part of
// internal/testutil, because the throttle package's own tests import
// testutil: testutil cannot import throttle without a cycle.
package throttletest
