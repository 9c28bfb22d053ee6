// Package elastic makes limits work-conserving on cgroup v1, where the
// kernel has no controller that does it (cgroup v2's io.latency does).
//
// Volumes come in three kinds: protected ones (latencyTarget set), elastic
// ones (elastic: "true") and the rest, which this package leaves alone.
// Groups are grouped by the disk that holds their volume's backing file:
// only IO to the same disk competes. Every control period the Controller
// reads the protected groups' cgroup counters (are they doing IO?) and the
// completion counters of their own devices (how long did their IOs take?).
// When a protected group is active and its IOs miss its target, the
// elastic groups on its disk are held to their limits; when no protected
// group has done IO for a while, they are lifted (to no limit, or to what
// the Lifter says, e.g. a burst rate). docs/elastic.md describes the
// states, why the target is checked against the protected device and not
// the disk's mean, and why the controller does not lift while a protected
// group stays active.
package elastic
