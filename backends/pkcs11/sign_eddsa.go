//go:build cgo

package pkcs11

/*
#include <stdlib.h>
#include <string.h>

// CK_EDDSA_PARAMS from PKCS #11 3.0 (CK_BBOOL, CK_ULONG, CK_BYTE_PTR).
typedef struct {
	unsigned char phFlag;
	unsigned long ulContextDataLen;
	unsigned char *pContextData;
} cp_eddsa_params;
*/
import "C"

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// signEdDSA signs with an Ed25519 or Ed448 key through CKM_EDDSA. Pure
// signatures use the mechanism without parameters; Ed25519ph (over the
// SHA-512 digest), Ed25519ctx, Ed448ph (over the message) and contexts pass
// CK_EDDSA_PARAMS, which tokens that do not implement them (SoftHSM2 2.6)
// refuse or ignore: such signatures are verified before they leave, and
// those calls fail with [backend.ErrUnsupported].
func (k *key) signEdDSA(ctx context.Context, req *backend.SignRequest) ([]byte, error) {
	prehash := req.Scheme == backend.SchemeEd25519ph || req.Scheme == backend.SchemeEd448ph
	variant := prehash || len(req.Context) > 0
	if variant && k.b.edParamsIgnored.Load() {
		return nil, errEdDSAVariant
	}
	mech := mechEdDSA
	if variant {
		params, free := eddsaParams(prehash, req.Context)
		defer free()
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmEdDSA, params)}
	}
	sig, err := k.signRaw(ctx, mech, req.Input)
	if err != nil {
		return nil, err
	}
	if variant && !backend.VerifySignature(k.pub, req, sig) {
		// Some tokens (SoftHSM2 2.6) accept CK_EDDSA_PARAMS and ignore
		// them, returning a pure signature: check, and remember.
		k.b.edParamsIgnored.Store(true)
		return nil, errEdDSAVariant
	}
	return sig, nil
}

var errEdDSAVariant = fmt.Errorf("the token does not implement Ed25519ph, Ed25519ctx or EdDSA contexts (it ignores CK_EDDSA_PARAMS): %w", backend.ErrUnsupported)

// eddsaParams encodes CK_EDDSA_PARAMS. The context bytes live in C memory,
// since the structure holds a pointer to them; free releases it after the
// operation.
func eddsaParams(prehash bool, context []byte) (params []byte, free func()) {
	var p C.cp_eddsa_params
	if prehash {
		p.phFlag = 1
	}
	var ctxData unsafe.Pointer
	if len(context) > 0 {
		ctxData = C.CBytes(context)
		p.pContextData = (*C.uchar)(ctxData)
		p.ulContextDataLen = C.ulong(len(context))
	}
	params = C.GoBytes(unsafe.Pointer(&p), C.int(unsafe.Sizeof(p)))
	return params, func() {
		if ctxData != nil {
			C.free(ctxData)
		}
	}
}
