// Package tpm is the cryptoplug backend for keys bound to a TPM 2.0: the
// private keys are created inside the TPM, cannot leave it, and are usable
// only on that TPM. Import it for its side effect and open it with
// [backend.Open], or call [Open] directly:
//
//	import _ "github.com/cryptoplug/cryptoplug/backends/tpm"
//
//	b, err := backend.Open(ctx, "tpm:device=/dev/tpmrm0;dir=/var/lib/app/tpm-keys")
//
// # URIs
//
//	tpm:device=/dev/tpmrm0;dir=/path        a real TPM through the kernel's resource manager
//	tpm:swtpm=/path/to/socket;dir=/path     the swtpm daemon's Unix socket (--server type=unixio)
//	tpm:simulator;dir=/path                 the in-process reference TPM, for tests and demos
//
// dir= is required: the directory holding the key files (created, mode
// 0700, if missing). pin-source=file:/path or pin-source=env:NAME gives the
// owner hierarchy's auth value when it is not empty. Other attributes are
// errors. tpm:simulator exists only in cgo builds; one simulator runs per
// process, shared by every backend that opens it, and its keys last as
// long as the process.
//
// # Keys and files
//
// Keys are children of the storage root key (SRK), which is re-derived on
// every open from the standard ECC P-256 template (TCG "H-2", the one
// tpm2-openssl and TSS2 key files use); nothing is made persistent in the
// TPM. Each key lives in dir as <hex key ID>.tss2.pem, a "TSS2 PRIVATE
// KEY" PEM file (parent 0x40000001, the owner hierarchy) that tpm2-openssl
// loads and signs with (openssl pkeyutl -provider tpm2 -inkey FILE). The
// key's label is a "Label: ..." line before the PEM block, where PEM
// readers skip text; files written by earlier versions, which kept the
// label in the TSS2 description field that tpm2-openssl refuses, are
// rewritten the first time they are read. The private part in the file is
// encrypted by the TPM and useless without it.
//
// Keys made by other tools are used too: any NAME.pem in dir holding a
// loadable TSS2 key under the owner hierarchy — what
// `openssl genpkey -provider tpm2 -out NAME.pem` writes, or tpm2-tools'
// tpm2_encodeobject under the same SRK. Its label is its "Label:" line if
// it has one, else a valid description, else NAME; its ID is its TPM
// object Name (the name tpm2_readpublic prints) unless NAME is hex. So
// placing web.pem in dir makes the key "web"; add a label line to choose
// another.
//
// A lost dir means lost keys: the TPM keeps no copy, so back the directory
// up. A cleared TPM (new owner seed) also loses them. The first open of a
// directory records the SRK's name in its srk.name file; a later open on
// another TPM (or a cleared one) fails with [ErrSRKMismatch].
//
// # Key policies
//
// [backend.KeySpec.Policy] is enforced by the TPM itself:
//
//   - An auth value (KeyPolicy.AuthValue, at most 32 bytes and without a
//     zero byte, which go-tpm's session HMAC mishandles) is the key's TPM
//     authValue. Give it at use with [backend.AuthValueKey]:
//     k.(backend.AuthValueKey).WithAuthValue(pw). A key used without it
//     fails with [backend.ErrAuth] before the TPM is asked; a wrong one
//     fails with [backend.ErrAuth] and counts toward the TPM's
//     dictionary-attack lockout.
//   - A PCR binding (KeyPolicy.PCRs) gives the key an authPolicy of
//     TPM2_PolicyPCR over the selected PCRs' values (given, or read at
//     creation), and clears userWithAuth: only a policy session that ran
//     that policy can use the key. When the PCRs hold other values the key
//     fails with [backend.ErrPolicy]; it works again once they hold the
//     bound values (after a reboot that measures the same state, a reset
//     of a resettable PCR such as 16).
//
// Both are recorded in the key file the standard way: emptyAuth false for
// an auth value (written out: tpm2-openssl 1.1.1 takes a missing emptyAuth
// for true), and the TSS2 policy field with a TPM2_PolicyPCR entry (its
// CommandPolicy the TPML_PCR_SELECTION and the PCR digest, as
// openssl_tpm2_engine writes it), followed by TPM2_PolicyAuthValue when the
// key has both. tpm2-openssl signs with a key that has an auth value
// (openssl pkeyutl -passin pass:...); it cannot use a PCR-bound key at
// all, since it does not implement the policy field (it refuses the file,
// and without the field the TPM refuses the key), so the binding holds
// there too. A key file from another tool with an auth value is used like
// ours; one with any other policy fails with [backend.ErrUnsupported].
//
// Dictionary-attack lockout: each wrong auth value counts. At the TPM's
// limit (TPM_PT_MAX_AUTH_FAIL; 3 on swtpm, one failure forgiven every
// TPM_PT_LOCKOUT_INTERVAL, 1000 s on swtpm) the TPM refuses every key that
// has an auth value, even with the right one, failing with [ErrLockout]
// (and [backend.ErrAuth]), until failures are forgiven or the lockout
// hierarchy resets the counter (tpm2_dictionarylockout --clear-lockout).
// Keys without an auth value are created noDA and keep working: in lockout
// a TPM refuses every DA-protected key, empty auth value or not.
//
// # Attestation
//
// Keys implement [backend.Attester]: evidence that package
// [github.com/cryptoplug/cryptoplug/backends/tpm/tpmattest] verifies from
// the TPM manufacturer's CA down to the key (EK certificate, an
// attestation key activated against the EK, TPM2_Certify of the key with
// the verifier's nonce). Imported keys are reported as such. The
// endorsement hierarchy's auth must be empty.
//
// # The bus
//
// What crosses the bus between this process and the TPM is assumed to be
// read by someone else. Decrypted plaintexts come back encrypted, in a
// session salted to the SRK; auth values are never sent, only HMACs in
// such sessions (and encrypted at creation); imported keys travel wrapped
// for the SRK. The SRK's public area is trusted because its name was
// pinned in the key directory (see above). Signing, whose digest and
// signature are public, uses no session unless the key has a policy.
//
// # Algorithms
//
// What the TPM reports (TPM2_GetCapability, TPM2_TestParms): ECDSA on
// P-256, P-384 and P-521 where the TPM has the curve; RSA-2048 and
// RSA-3072 with PKCS #1 v1.5 or PSS signing and OAEP or PKCS #1 v1.5
// decryption, chosen per call. Existing RSA and ECDSA keys can be imported
// ([Backend.ImportKey]): they are wrapped for the SRK in Go and travel to
// the TPM only encrypted. There is no EdDSA, ML-DSA, ML-KEM or RSA-4096:
// those fail with [backend.ErrUnsupported].
//
// # Concurrency and recovery
//
// Backends are safe for concurrent use. The TPM runs one command at a
// time; Go-side work (DER encoding, PSS verification) runs outside that
// lock. Loaded keys are kept in an LRU no larger than the TPM's transient
// slots and reloaded on demand. On swtpm and the simulator, transient
// objects left by a crashed process are flushed when the TPM is first
// opened; this assumes the backend is the TPM's only user (the kernel's
// resource manager does that isolation for /dev/tpmrm0). When swtpm is
// restarted or the TPM reset, the next operation reconnects, starts the
// TPM if needed, re-derives the SRK and reloads its key; while the TPM
// cannot be reached, operations fail with [backend.ErrUnavailable]. A TPM
// command that does not return never holds its caller past its context:
// the caller gets the context's error, the command keeps the TPM until it
// returns, and operations meanwhile fail at once with ErrUnavailable.
// [Backend.Health] reports up, recovering or down.
package tpm
