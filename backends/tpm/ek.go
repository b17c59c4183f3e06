package tpm

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// ekKind is one kind of endorsement key the TCG EK Credential Profile
// defines (the "low range"): where its certificate is in NV, where
// platforms persist the key, and the template it is derived from. Both use
// the policy PolicySecret(TPM_RH_ENDORSEMENT).
type ekKind struct {
	name       string
	certIndex  tpm2.TPMHandle
	persistent tpm2.TPMHandle
	template   tpm2.TPMTPublic
}

// ekKinds are tried in this order. swtpm_setup makes an RSA-2048 EK (and a
// P-384 one in the high range, whose PolicyOR-based policy is not
// supported here); PC TPMs ship RSA-2048, ECC P-256 or both.
var ekKinds = []ekKind{
	{"RSA-2048", 0x01c00002, 0x81010001, tpm2.RSAEKTemplate},
	{"ECC NIST P-256", 0x01c0000a, 0x81010002, tpm2.ECCEKTemplate},
}

// maxEKCert bounds what is read from an EK certificate's NV index.
const maxEKCert = 4096

// nvChunk is how much one TPM2_NV_Read asks for: below every TPM's
// TPM_PT_NV_BUFFER_MAX (1024 on common ones).
const nvChunk = 512

// endorsement is the TPM's endorsement identity: the EK certificate the
// manufacturer stored (nil when there is none) and the EK's public area.
type endorsement struct {
	kind ekKind
	cert []byte
	pub  tpm2.TPMTPublic
}

// readEndorsement finds the TPM's EK: the first kind whose certificate is
// in NV, else the first kind the TPM can make, without certificate. The
// EK's public area is read from its persistent handle or derived from the
// template (and flushed again). The caller holds the device lock.
func readEndorsement(t transport.TPM, ownerAuth []byte) (*endorsement, error) {
	var fallback *ekKind
	for i := range ekKinds {
		kind := &ekKinds[i]
		cert, err := readNV(t, kind.certIndex, ownerAuth)
		if errors.Is(err, errNoIndex) {
			if fallback == nil {
				fallback = kind
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the %s EK certificate: %w", kind.name, err)
		}
		pub, err := ekPublic(t, *kind)
		if err != nil {
			return nil, err
		}
		return &endorsement{kind: *kind, cert: cert, pub: pub}, nil
	}
	for _, kind := range ekKinds {
		pub, err := ekPublic(t, kind)
		if isTPMErr(err) {
			continue // the TPM lacks this algorithm
		}
		if err != nil {
			return nil, err
		}
		return &endorsement{kind: kind, pub: pub}, nil
	}
	return nil, fmt.Errorf("the TPM can make none of the standard endorsement keys")
}

// ekPublic reads the EK's public area from its persistent handle, or
// derives the key from its template.
func ekPublic(t transport.TPM, kind ekKind) (tpm2.TPMTPublic, error) {
	if rsp, err := (tpm2.ReadPublic{ObjectHandle: kind.persistent}).Execute(t); err == nil {
		pub, err := rsp.OutPublic.Contents()
		if err != nil {
			return tpm2.TPMTPublic{}, fmt.Errorf("read the %s EK: %w", kind.name, err)
		}
		return *pub, nil
	}
	h, pub, err := createEK(t, kind)
	if err != nil {
		return tpm2.TPMTPublic{}, err
	}
	flush(t, h.Handle)
	return pub, nil
}

// loadEK returns a handle to the EK and whether it is transient (the
// caller then flushes it).
func loadEK(t transport.TPM, kind ekKind) (tpm2.NamedHandle, bool, error) {
	if rsp, err := (tpm2.ReadPublic{ObjectHandle: kind.persistent}).Execute(t); err == nil {
		return tpm2.NamedHandle{Handle: kind.persistent, Name: rsp.Name}, false, nil
	}
	h, _, err := createEK(t, kind)
	return h, err == nil, err
}

func createEK(t transport.TPM, kind ekKind) (tpm2.NamedHandle, tpm2.TPMTPublic, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(kind.template),
	}.Execute(t)
	if err != nil {
		return tpm2.NamedHandle{}, tpm2.TPMTPublic{}, fmt.Errorf("derive the %s EK: %w", kind.name, endorsementAuthErr(err))
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		flush(t, rsp.ObjectHandle)
		return tpm2.NamedHandle{}, tpm2.TPMTPublic{}, fmt.Errorf("derive the %s EK: %w", kind.name, err)
	}
	return tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, *pub, nil
}

// ekSession is the policy session the EK's policy asks for:
// PolicySecret(TPM_RH_ENDORSEMENT), with the endorsement hierarchy's
// (empty) auth.
func ekSession() tpm2.Session {
	return tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(t transport.TPM, handle tpm2.TPMISHPolicy, nonceTPM tpm2.TPM2BNonce) error {
		_, err := tpm2.PolicySecret{
			AuthHandle:    tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
			PolicySession: handle,
			NonceTPM:      nonceTPM,
		}.Execute(t)
		if err != nil {
			flush(t, handle) // go-tpm leaves a session whose policy failed loaded
		}
		return endorsementAuthErr(err)
	})
}

// endorsementAuthErr says what a refused endorsement-hierarchy auth means.
func endorsementAuthErr(err error) error {
	if isAuthErr(err) {
		return fmt.Errorf("the endorsement hierarchy has an auth value, and cryptoplug attests only with an empty one: %w", err)
	}
	return err
}

var errNoIndex = errors.New("no such NV index")

// readNV reads a whole NV index of at most maxEKCert bytes, with the
// index's own (empty) auth when its attributes allow, else the owner's.
func readNV(t transport.TPM, index tpm2.TPMHandle, ownerAuth []byte) ([]byte, error) {
	rsp, err := tpm2.NVReadPublic{NVIndex: index}.Execute(t)
	if isRC(err, tpm2.TPMRCHandle) {
		return nil, errNoIndex
	}
	if err != nil {
		return nil, err
	}
	nvPub, err := rsp.NVPublic.Contents()
	if err != nil {
		return nil, err
	}
	if nvPub.DataSize > maxEKCert {
		return nil, fmt.Errorf("NV index %#x holds %d bytes, more than any certificate", uint32(index), nvPub.DataSize)
	}
	auth := tpm2.AuthHandle{Handle: index, Name: rsp.NVName, Auth: tpm2.PasswordAuth(nil)}
	if !nvPub.Attributes.AuthRead {
		if !nvPub.Attributes.OwnerRead {
			return nil, fmt.Errorf("NV index %#x is readable by neither its auth nor the owner", uint32(index))
		}
		auth = tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(ownerAuth)}
	}
	out := make([]byte, 0, nvPub.DataSize)
	for off := 0; off < int(nvPub.DataSize); off += nvChunk {
		n := min(nvChunk, int(nvPub.DataSize)-off)
		r, err := tpm2.NVRead{AuthHandle: auth, NVIndex: tpm2.NamedHandle{Handle: index, Name: rsp.NVName}, Size: uint16(n), Offset: uint16(off)}.Execute(t)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Data.Buffer...)
	}
	// Some manufacturers pad the index after the DER certificate.
	return trimDER(out), nil
}

// trimDER cuts data after the DER element it starts with, if its length
// can be read; otherwise it returns data as is.
func trimDER(data []byte) []byte {
	if len(data) < 2 || data[0] != 0x30 {
		return data
	}
	n, hdr := int(data[1]), 2
	if n&0x80 != 0 {
		lenBytes := n & 0x7f
		if lenBytes == 0 || lenBytes > 3 || len(data) < 2+lenBytes {
			return data
		}
		n = 0
		for _, b := range data[2 : 2+lenBytes] {
			n = n<<8 | int(b)
		}
		hdr += lenBytes
	}
	if hdr+n > len(data) {
		return data
	}
	return data[:hdr+n]
}

// akTemplate is the attestation key: a restricted ECDSA P-256 signing key
// in the endorsement hierarchy, fixed to the TPM, derived again from the
// same template each time (so the same key every time, without making
// anything persistent). Restricted: it signs only structures the TPM
// makes, such as TPM2_Certify's, never a digest handed to it.
var akTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		Restricted:          true,
		SignEncrypt:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
		CurveID: tpm2.TPMECCNistP256,
		KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	}),
	Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
}

// createAK derives the attestation key.
func createAK(t transport.TPM) (tpm2.AuthHandle, tpm2.TPMTPublic, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(akTemplate),
	}.Execute(t)
	if err != nil {
		return tpm2.AuthHandle{}, tpm2.TPMTPublic{}, fmt.Errorf("derive the attestation key: %w", endorsementAuthErr(err))
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		flush(t, rsp.ObjectHandle)
		return tpm2.AuthHandle{}, tpm2.TPMTPublic{}, fmt.Errorf("derive the attestation key: %w", err)
	}
	return tpm2.AuthHandle{Handle: rsp.ObjectHandle, Name: rsp.Name, Auth: tpm2.PasswordAuth(nil)}, *pub, nil
}
