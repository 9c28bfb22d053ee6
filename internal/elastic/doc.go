// Package elastic makes limits work-conserving on cgroup v1, where the
// kernel has no controller that does it (cgroup v2's io.latency does).
//
// Volumes come in three kinds: protected ones (latencyTarget set), elastic
// ones (elastic: "true") and the rest, which this package leaves alone.
// Groups are grouped by the disk that holds their volume's backing file:
// only IO to the same disk competes. Every control period the Controller
// reads the protected groups' cgroup counters (are they doing IO?) and the
// disk's completion counters (how long did an IO take on average?). When a
// protected group is active and the disk misses the group's target, the
// elastic groups on that disk are held to their limits; when no protected
// group has done IO for a while, they are lifted (to no limit, or to what
// the Lifter says, e.g. a burst rate). docs/elastic.md describes the
// states and why the controller does not lift while a protected group
// stays active.
package elastic
