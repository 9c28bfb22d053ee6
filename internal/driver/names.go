package driver

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// checkName refuses a name that holds a NUL byte, another control character
// (C0, DEL, C1: newlines, escapes, tabs) or bytes that are not UTF-8. Names
// reach log lines, the persisted volume records and Events on Pods, where
// such bytes forge or garble lines and terminal output; no CO sends them,
// so a request that carries one is malformed. An empty name is left to the
// caller (some fields are optional).
func checkName(field, name string) error {
	if !utf8.ValidString(name) {
		return status.Errorf(codes.InvalidArgument, "%s %s is not valid UTF-8; use printable characters only", field, quote(name))
	}
	for i, r := range name {
		if r == 0 || unicode.IsControl(r) {
			return status.Errorf(codes.InvalidArgument,
				"%s %s holds the control character %s at byte %d; use printable characters only", field, quote(name), describeRune(r), i)
		}
	}
	return nil
}

// describeRune names a control character the way a reader can find it.
func describeRune(r rune) string {
	if r == 0 {
		return "NUL (U+0000)"
	}
	return fmt.Sprintf("U+%04X", r)
}
