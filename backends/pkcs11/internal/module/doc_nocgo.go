//go:build !cgo

// Package module is the process-wide cache of loaded PKCS #11 modules. It
// is empty in a binary built without cgo.
package module
