// Package fuzz holds the fuzz targets for authn's parsers: tokens, the
// credential headers (X-API-KEY, Authorization Bearer, Basic and bare user
// secrets), and query-string checks (backup blobs are
// fuzzed in package seal).
//
// They live apart from authn's other tests so that their test binary does
// not link the SQL drivers: fuzzing instruments every linked package, and
// the transpiled SQLite's coverage counters would slow each execution a
// hundredfold. The targets use only authn's exported API. Run one with
//
//	go test -run='^$' -fuzz='^FuzzParseToken$' -fuzztime=20s ./authn/internal/fuzz
package fuzz
