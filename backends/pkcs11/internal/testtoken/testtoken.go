//go:build cgo

// Package testtoken initialises PKCS #11 tokens for the test harnesses
// (softhsmtest, tpm2pkcs11test, opencryptokitest): the C_InitToken,
// C_Login (SO), C_InitPIN sequence each implementation needs, written once.
package testtoken

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// InitFree initialises the first slot without an initialised token as a
// token labelled label with the SO PIN so, then finds it again by label
// (SoftHSM2 and tpm2-pkcs11 move an initialised token to a new slot ID) and
// sets its user PIN. impl names the implementation in errors.
func InitFree(p *pkcs11.Ctx, impl, label, so, pin string) error {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("C_GetSlotList: %w", err)
	}
	free, ok := uint(0), false
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			free, ok = s, true
			break
		}
	}
	if !ok {
		return errors.New(impl + " offers no free slot")
	}
	if err := p.InitToken(free, so, label); err != nil {
		return fmt.Errorf("C_InitToken: %w", err)
	}
	slot, err := SlotByLabel(p, label)
	if err != nil {
		return err
	}
	return AsSO(p, slot, so, func(sh pkcs11.SessionHandle) error {
		if err := p.InitPIN(sh, pin); err != nil {
			return fmt.Errorf("C_InitPIN: %w", err)
		}
		return nil
	})
}

// AsSO runs fn in a read-write session on slot logged in as the security
// officer with the PIN so.
func AsSO(p *pkcs11.Ctx, slot uint, so string, fn func(pkcs11.SessionHandle) error) error {
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("C_OpenSession: %w", err)
	}
	defer p.CloseSession(sh)
	if err := p.Login(sh, pkcs11.CKU_SO, so); err != nil {
		return fmt.Errorf("C_Login (SO): %w", err)
	}
	defer p.Logout(sh)
	return fn(sh)
}

// SlotByLabel returns the slot holding the token labelled label (the
// token's blank or NUL padding ignored).
func SlotByLabel(p *pkcs11.Ctx, label string) (uint, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("C_GetSlotList: %w", err)
	}
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && strings.TrimRight(ti.Label, " \x00") == label {
			return s, nil
		}
	}
	return 0, fmt.Errorf("no token labelled %q", label)
}
