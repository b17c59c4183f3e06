// Package tpmattest verifies that a key lives in a genuine TPM: the
// "tpm2-certify" attestations the cryptoplug TPM backend produces
// ([backend.Attester]). It needs no TPM and no cgo; a relying party
// imports it alone.
//
// Verification is a short conversation with the key's backend:
//
//	att, _ := a.Attest(ctx, backend.AttestRequest{Nonce: n1})
//	ch, err := v.Challenge(att.Evidence) // checks the EK certificate, makes a credential for the AK
//	att, _ = a.Attest(ctx, backend.AttestRequest{Nonce: n2, Challenge: ch.Bytes()})
//	res, err := ch.Verify(att.Evidence, n2)
//
// or, when the Attester is at hand, [Verifier.AttestKey] runs it all.
//
// What a successful verification proves, link by link:
//
//   - The endorsement key certificate chains to one of [Verifier.Roots]
//     (a TPM manufacturer's CA), and the EK in the evidence is its key.
//   - The attestation key (AK) is a restricted signing key that cannot
//     leave its TPM, and it lives in the TPM that holds the EK's private
//     key: the TPM opened a credential made for exactly this AK and
//     encrypted to the EK (TPM2_MakeCredential here,
//     TPM2_ActivateCredential there) and returned its secret.
//   - The AK signed a TPM2_Certify of the key, with the verifier's nonce
//     as qualifying data: the key is loaded in that TPM now, and the
//     attestation is fresh. A restricted key signs only structures the TPM
//     made itself, so the certification cannot be forged with the AK.
//   - The key's public area, bound by its name into the certification,
//     says fixedTPM, fixedParent and sensitiveDataOrigin: the key was made
//     inside this TPM and can never leave it. Imported keys lack
//     sensitiveDataOrigin (and fixedTPM) and fail with [ErrImported].
//
// Each failure wraps one sentinel (ErrUntrustedEK, ErrNotActivated, …)
// naming the broken link; test with errors.Is.
//
// It will not check what a TPM's PCRs say about the platform's software
// (that is a quote, not a key certification), nor consult revocation
// lists for EK certificates.
package tpmattest
