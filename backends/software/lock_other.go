//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package software

import "os"

// lockFile does nothing on systems without flock: there, the directory store
// does not protect itself from a second process, and callers must not open
// one directory twice.
func lockFile(*os.File) error { return nil }
