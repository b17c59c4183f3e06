//go:build !cryptoplug_vectors

package vectors

// archive is empty: this build carries no vectors.
var archive []byte
