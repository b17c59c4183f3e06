//go:build cgo && !linux

package module

// loadPrivately does nothing outside Linux: RTLD_DEEPBIND is a glibc
// extension. miekg/pkcs11 loads the library itself.
func loadPrivately(path string) error { return nil }
