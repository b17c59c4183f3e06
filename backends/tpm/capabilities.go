package tpm

import (
	"crypto"
	"fmt"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

// tpmCaps is what the TPM says it can do, read once at connect.
type tpmCaps struct {
	algs         map[tpm2.TPMAlgID]bool
	commands     map[tpm2.TPMCC]bool // the commands it implements
	curves       map[tpm2.TPMECCCurve]bool
	rsaBits      map[int]bool // RSA sizes TPM2_TestParms accepted
	transientMin uint32       // TPM_PT_HR_TRANSIENT_MIN: transient objects it can hold at once
	manufacturer string
	model        string
	firmware     string
}

// readCaps queries TPM_CAP_ALGS, TPM_CAP_ECC_CURVES and the fixed
// TPM properties, and tries the RSA key sizes cryptoplug offers with
// TPM2_TestParms.
func readCaps(t transport.TPM) (tpmCaps, error) {
	c := tpmCaps{algs: map[tpm2.TPMAlgID]bool{}, commands: map[tpm2.TPMCC]bool{}, curves: map[tpm2.TPMECCCurve]bool{}, rsaBits: map[int]bool{}}
	for next := uint32(0); ; {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapAlgs, Property: next, PropertyCount: 64}.Execute(t)
		if err != nil {
			return c, fmt.Errorf("read TPM algorithms: %w", err)
		}
		algs, err := rsp.CapabilityData.Data.Algorithms()
		if err != nil {
			return c, fmt.Errorf("read TPM algorithms: %w", err)
		}
		for _, a := range algs.AlgProperties {
			c.algs[a.Alg] = true
			next = uint32(a.Alg) + 1
		}
		if !rsp.MoreData || len(algs.AlgProperties) == 0 {
			break
		}
	}
	for next := uint32(0x11f); ; { // TPM_CC_FIRST
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapCommands, Property: next, PropertyCount: 64}.Execute(t)
		if err != nil {
			return c, fmt.Errorf("read TPM commands: %w", err)
		}
		cmds, err := rsp.CapabilityData.Data.Command()
		if err != nil {
			return c, fmt.Errorf("read TPM commands: %w", err)
		}
		for _, a := range cmds.CommandAttributes {
			c.commands[tpm2.TPMCC(a.CommandIndex)] = true
			next = uint32(a.CommandIndex) + 1
		}
		if !rsp.MoreData || len(cmds.CommandAttributes) == 0 {
			break
		}
	}
	if c.algs[tpm2.TPMAlgECC] {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapECCCurves, Property: 0, PropertyCount: 64}.Execute(t)
		if err != nil {
			return c, fmt.Errorf("read TPM curves: %w", err)
		}
		curves, err := rsp.CapabilityData.Data.ECCCurves()
		if err != nil {
			return c, fmt.Errorf("read TPM curves: %w", err)
		}
		for _, cv := range curves.ECCCurves {
			c.curves[cv] = true
		}
	}
	if c.algs[tpm2.TPMAlgRSA] {
		for _, bits := range []int{2048, 3072} {
			_, err := tpm2.TestParms{Parameters: tpm2.TPMTPublicParms{
				Type: tpm2.TPMAlgRSA,
				Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
					Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
					Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
					KeyBits:   tpm2.TPMKeyBits(bits),
				}),
			}}.Execute(t)
			switch {
			case err == nil:
				c.rsaBits[bits] = true
			case !isTPMErr(err):
				return c, fmt.Errorf("test RSA-%d parameters: %w", bits, err)
			}
		}
	}
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(tpm2.TPMPTFamilyIndicator), PropertyCount: 64}.Execute(t)
	if err != nil {
		return c, fmt.Errorf("read TPM properties: %w", err)
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return c, fmt.Errorf("read TPM properties: %w", err)
	}
	var vendor [4]uint32
	var fw1, fw2 uint32
	for _, p := range props.TPMProperty {
		switch p.Property {
		case tpm2.TPMPTManufacturer:
			c.manufacturer = fourCC(p.Value)
		case tpm2.TPMPTVendorString1, tpm2.TPMPTVendorString2, tpm2.TPMPTVendorString3, tpm2.TPMPTVendorString4:
			vendor[p.Property-tpm2.TPMPTVendorString1] = p.Value
		case tpm2.TPMPTFirmwareVersion1:
			fw1 = p.Value
		case tpm2.TPMPTFirmwareVersion2:
			fw2 = p.Value
		case tpm2.TPMPTHRTransientMin:
			c.transientMin = p.Value
		}
	}
	var model strings.Builder
	for _, v := range vendor {
		model.WriteString(fourCC(v))
	}
	c.model = model.String()
	c.firmware = fmt.Sprintf("%d.%d.%d.%d", fw1>>16, fw1&0xffff, fw2>>16, fw2&0xffff)
	return c, nil
}

// fourCC decodes a TPM property holding up to four ASCII characters.
func fourCC(v uint32) string {
	b := []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	return strings.TrimRight(strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, string(b)), " ")
}

// keySlots is how many keys the backend keeps loaded at once: the TPM's
// guaranteed transient slots less one for the SRK (the spec's minimum is
// 3, so 2).
func (c tpmCaps) keySlots() int {
	n := int(c.transientMin) - 1
	if c.transientMin == 0 {
		n = 2
	}
	return max(n, 1)
}

// curveOf maps an ECDSA algorithm to its TPM curve.
func curveOf(a backend.Algorithm) tpm2.TPMECCCurve {
	switch a {
	case backend.ECDSAP256:
		return tpm2.TPMECCNistP256
	case backend.ECDSAP384:
		return tpm2.TPMECCNistP384
	case backend.ECDSAP521:
		return tpm2.TPMECCNistP521
	}
	return 0
}

// hashAlg maps a crypto.Hash to the TPM's algorithm ID, or 0.
func hashAlg(h crypto.Hash) tpm2.TPMAlgID {
	switch h {
	case crypto.SHA1:
		return tpm2.TPMAlgSHA1
	case crypto.SHA256:
		return tpm2.TPMAlgSHA256
	case crypto.SHA384:
		return tpm2.TPMAlgSHA384
	case crypto.SHA512:
		return tpm2.TPMAlgSHA512
	case crypto.SHA3_256:
		return tpm2.TPMAlgSHA3256
	case crypto.SHA3_384:
		return tpm2.TPMAlgSHA3384
	case crypto.SHA3_512:
		return tpm2.TPMAlgSHA3512
	}
	return 0
}

// hasHash reports whether the TPM implements h.
func (c tpmCaps) hasHash(h crypto.Hash) bool {
	a := hashAlg(h)
	return a != 0 && c.algs[a]
}

// capabilities turns what the TPM reported into cryptoplug's terms.
// Import is offered for every algorithm the TPM can hold when it
// implements TPM2_Import: keys are wrapped for the ECC storage root key,
// so that also needs ECDH.
func (c tpmCaps) capabilities() backend.Capabilities {
	out := backend.Capabilities{}
	var imports backend.Ops
	if c.commands[tpm2.TPMCCImport] && c.algs[tpm2.TPMAlgECDH] {
		imports = backend.OpImport
	}
	if c.algs[tpm2.TPMAlgRSA] {
		for _, a := range []backend.Algorithm{backend.RSA2048, backend.RSA3072} {
			if !c.rsaBits[a.Bits()] {
				continue
			}
			ops := backend.OpGenerate | imports
			if c.algs[tpm2.TPMAlgRSASSA] || c.algs[tpm2.TPMAlgRSAPSS] {
				ops |= backend.OpSign
			}
			if c.algs[tpm2.TPMAlgOAEP] || c.algs[tpm2.TPMAlgRSAES] {
				ops |= backend.OpDecrypt
			}
			out[a] = ops
		}
	}
	if c.algs[tpm2.TPMAlgECC] && c.algs[tpm2.TPMAlgECDSA] {
		for _, a := range []backend.Algorithm{backend.ECDSAP256, backend.ECDSAP384, backend.ECDSAP521} {
			if c.curves[curveOf(a)] {
				out[a] = backend.OpGenerate | backend.OpSign | imports
			}
		}
	}
	return out
}

// maxDataSize is the largest TPM2B_DATA the TPM takes: sizeof(TPMT_HA),
// the algorithm ID and the largest digest it implements.
func (c tpmCaps) maxDataSize() int {
	largest := 0
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if c.hasHash(h) {
			largest = max(largest, h.Size())
		}
	}
	return 2 + largest
}
