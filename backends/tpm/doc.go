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
// loadable TSS2 key under the owner hierarchy with empty auth — what
// `openssl genpkey -provider tpm2 -out NAME.pem` writes, or tpm2-tools'
// tpm2_encodeobject under the same SRK. Its label is its "Label:" line if
// it has one, else a valid description, else NAME; its ID is its TPM
// object Name (the name tpm2_readpublic prints) unless NAME is hex. So
// placing web.pem in dir makes the key "web"; add a label line to choose
// another.
//
// A lost dir means lost keys: the TPM keeps no copy, so back the directory
// up. A cleared TPM (new owner seed) also loses them.
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
// TPM if needed, re-derives the SRK and reloads its key.
package tpm
