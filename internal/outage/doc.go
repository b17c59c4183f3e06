// Package outage is what a backend whose store is a device or a daemon —
// a PKCS #11 module, a TPM — does when that store stops answering, shared
// by backends/pkcs11 and backends/tpm so that both behave alike:
//
//   - [Calls] runs each call to the store where its caller can leave it at
//     the caller's context's end, counts the calls so abandoned and bounds
//     them: at the bound, no new call should start;
//   - [Status] keeps the state operators read (up, recovering, down, since
//     when, why) and answers the hot path's "is it up?" with one atomic load;
//   - [Loop] retries a recovery in the background, one attempt at a time,
//     with capped exponential backoff and jitter, until it succeeds.
//
// Nothing here knows PKCS #11 or TPMs; the backends decide which errors
// are outages (by inclusion: an error they do not recognise is never one)
// and what a recovery attempt does.
package outage
