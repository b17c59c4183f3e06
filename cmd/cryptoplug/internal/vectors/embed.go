//go:build cryptoplug_vectors

package vectors

import _ "embed"

// archive is vectors.tar.gz, supplied at build time by -overlay (see the
// package documentation).
//
//go:embed vectors.tar.gz
var archive []byte
