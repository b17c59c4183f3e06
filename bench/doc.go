// Package bench measures what cryptoplug costs: every operation a backend
// offers is timed through cryptoplug (impl "backend") and, in the same run,
// done without it (impl "baseline": the standard library or circl for the
// software backend, raw PKCS #11 calls for a PKCS #11 token, raw TPM2
// commands for a TPM) and through a peer library where one does the same
// job (impl "crypto11", "go-tpm-tools").
//
// Start with [RunURI] in a benchmark function:
//
//	func BenchmarkToken(b *testing.B) {
//		bench.RunURI(b, "pkcs11:token=signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/pin")
//	}
//
// or run this package's own benchmarks, which cover the embedded defaults
// (the in-memory software store, a fresh SoftHSM2 token and the in-process
// TPM simulator) or any backend URI:
//
//	go test ./bench -run '^$' -bench . -args -backend 'tpm:swtpm=/run/swtpm.sock;dir=/tmp/k'
//
// # Names
//
// Every result is named
//
//	op=<Op>/alg=<Algorithm>/impl=<impl>/p=<goroutines>
//
// below the caller's benchmark, so that benchstat can put the
// implementations side by side:
//
//	go tool benchstat -col '/impl@(baseline backend crypto11 go-tpm-tools)' -row /op,/alg,/p results.txt
//
// Op is [Sign], [Decrypt], [Decapsulate] or [Generate]; p is how many
// goroutines run the operation at once ([WithParallelism]). Besides ns/op,
// B/op and allocs/op each result reports the median and 99th percentile
// latency of one operation as the custom units p50-ns and p99-ns, and the
// process's CPU time per operation as cpu-ns/op (Linux only), which other
// work on a shared machine disturbs least.
//
// # What is measured
//
// Each workload uses one key, which the run generates in the backend (or,
// where the baselines offer one as a [KeyMaker], imports into it, so that
// backend and baseline use the same key) and deletes afterwards, and one
// fixed input: a SHA-256 digest for RSA PKCS #1 v1.5 and
// ECDSA, a short message for Ed25519, Ed448 and ML-DSA, an OAEP ciphertext,
// an ML-KEM ciphertext. Sign goes through the key's [crypto.Signer] Sign
// method (not SignContext), Decrypt through [crypto.Decrypter], Decapsulate
// through [crypto.Decapsulator]. Generate is GenerateKey followed by
// DeleteKey of the new key, so that the store does not grow during the run;
// it is measured only on stores that are not persistent (see
// [WithGenerate]).
//
// Outputs are checked outside the timed loop: the first, middle and last
// output of every run is verified (signatures against the public key,
// plaintexts and shared keys against the expected value). A failed
// operation or a wrong output fails the benchmark.
//
// A run changes the backend: it creates keys labelled "cryptoplug-bench-…"
// and deletes them when it ends. Point it only at a store where that is
// acceptable.
//
// Baselines and peers for a URI scheme come from a [Baseliner]; the
// built-in ones cover "software", "pkcs11" and "tpm", and [WithBaseliner]
// adds or replaces one.
package bench
