package authn

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// OpClass is a class of operations on a key that a [KeyPolicy] can subject
// to approvals. The values are stored in databases and never change.
type OpClass uint8

// The operation classes.
const (
	ClassUse          OpClass = 1 // sign, decrypt, decapsulate
	ClassBlock        OpClass = 2 // block and unblock
	ClassDelete       OpClass = 3 // destroy the key
	ClassChangePolicy OpClass = 4 // replace the key's policy
)

// String returns "use", "block", "delete" or "change_policy".
func (c OpClass) String() string {
	switch c {
	case ClassUse:
		return "use"
	case ClassBlock:
		return "block"
	case ClassDelete:
		return "delete"
	case ClassChangePolicy:
		return "change_policy"
	}
	return "OpClass(" + strconv.Itoa(int(c)) + ")"
}

// Limits of a key policy.
const (
	// MaxApprovalRules bounds the rules of one class.
	MaxApprovalRules = 4
	// MaxRuleApprovers bounds the approvers of one rule.
	MaxRuleApprovers = 16
)

// ApprovalRule asks for Quorum distinct approvals among Approvers
// (principal IDs of registered approvers).
type ApprovalRule struct {
	Quorum    int
	Approvers []string
}

// String returns the rule as "2 of usr_…,usr_…,usr_…".
func (r ApprovalRule) String() string {
	return strconv.Itoa(r.Quorum) + " of " + strings.Join(r.Approvers, ",")
}

// KeyPolicy lists, per operation class, the rules an operation must meet
// before it runs; all rules of a class must be met, and a class without
// rules needs no approval.
type KeyPolicy struct {
	Use, Block, Delete, ChangePolicy []ApprovalRule
}

// Rules returns the rules of class c.
func (p KeyPolicy) Rules(c OpClass) []ApprovalRule {
	switch c {
	case ClassUse:
		return p.Use
	case ClassBlock:
		return p.Block
	case ClassDelete:
		return p.Delete
	case ClassChangePolicy:
		return p.ChangePolicy
	}
	return nil
}

// IsZero reports whether the policy asks for no approval at all.
func (p KeyPolicy) IsZero() bool {
	return len(p.Use)+len(p.Block)+len(p.Delete)+len(p.ChangePolicy) == 0
}

// Approvers returns every principal the policy names, sorted, once each.
func (p KeyPolicy) Approvers() []string {
	var out []string
	for _, c := range policyClasses {
		for _, r := range p.Rules(c) {
			out = append(out, r.Approvers...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var policyClasses = []OpClass{ClassUse, ClassBlock, ClassDelete, ClassChangePolicy}

// RulesText returns the rules of one class as text, "" for none: each rule
// as [ApprovalRule.String], joined by "; ". It is how a policy change shows
// the new policy to approvers.
func RulesText(rules []ApprovalRule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r.String()
	}
	return strings.Join(parts, "; ")
}

// NormalizePolicy checks p and returns it in canonical form: each rule's
// approvers sorted, each class's rules sorted by their text. It refuses,
// with an error wrapping [ErrInvalidArgument] that never quotes the input:
// more than [MaxApprovalRules] rules in a class, a rule naming no approver,
// more than [MaxRuleApprovers], one twice, or an ID that is not a
// principal's, and a quorum outside 1 to the number of approvers. It does
// not check that the approvers are registered (see [Service.SetKeyState]).
func NormalizePolicy(p KeyPolicy) (KeyPolicy, error) {
	const op = "check key policy"
	var out KeyPolicy
	for _, c := range policyClasses {
		rules := p.Rules(c)
		if len(rules) > MaxApprovalRules {
			return KeyPolicy{}, opErr(op, "", errWrap(ErrInvalidArgument, "a class has more than "+strconv.Itoa(MaxApprovalRules)+" rules"))
		}
		var norm []ApprovalRule
		for _, r := range rules {
			if len(r.Approvers) == 0 || len(r.Approvers) > MaxRuleApprovers {
				return KeyPolicy{}, opErr(op, "", errWrap(ErrInvalidArgument, "a rule must name 1 to "+strconv.Itoa(MaxRuleApprovers)+" approvers"))
			}
			if r.Quorum < 1 || r.Quorum > len(r.Approvers) {
				return KeyPolicy{}, opErr(op, "", errWrap(ErrInvalidArgument, "a rule's quorum must be 1 to the number of its approvers"))
			}
			ids := slices.Clone(r.Approvers)
			slices.Sort(ids)
			for i, id := range ids {
				if !isPrincipalID(id) {
					return KeyPolicy{}, opErr(op, "", errWrap(ErrInvalidArgument, "a rule names something that is not a principal ID"))
				}
				if i > 0 && ids[i-1] == id {
					return KeyPolicy{}, opErr(op, "", errWrap(ErrInvalidArgument, "a rule names an approver twice"))
				}
			}
			norm = append(norm, ApprovalRule{Quorum: r.Quorum, Approvers: ids})
		}
		slices.SortFunc(norm, func(a, b ApprovalRule) int { return strings.Compare(a.String(), b.String()) })
		switch c {
		case ClassUse:
			out.Use = norm
		case ClassBlock:
			out.Block = norm
		case ClassDelete:
			out.Delete = norm
		case ClassChangePolicy:
			out.ChangePolicy = norm
		}
	}
	return out, nil
}

// QuorumMet reports whether approvals by the principals in approvedBy meet
// every rule: each rule counts each of its approvers once, however often
// approvedBy names it. No rules are met by no approval. Stores call it
// inside the transaction that records an approval.
func QuorumMet(rules []ApprovalRule, approvedBy []string) bool {
	for _, r := range rules {
		n := 0
		for _, a := range r.Approvers {
			if slices.Contains(approvedBy, a) {
				n++
			}
		}
		if n < r.Quorum {
			return false
		}
	}
	return true
}

// KeyState is what a key carries besides its group: its approval policy,
// whether it is blocked, and a version that grows with every change.
// Version 0 is the state of a key that never had one: no policy, not
// blocked.
type KeyState struct {
	KeyID   string // lowercase hex
	Policy  KeyPolicy
	Blocked bool
	Version int64
}

// KeyState returns the state of the key with hex ID keyID; a key that never
// had one gets the zero state (Version 0). It costs one indexed store query
// and is on every key use's path.
func (s *Service) KeyState(ctx context.Context, keyID string) (KeyState, error) {
	const op = "get key state"
	if !validKeyID(keyID) {
		return KeyState{}, opErr(op, "", errWrap(ErrInvalidArgument, "malformed key ID"))
	}
	st, err := s.store.GetKeyState(ctx, keyID)
	switch {
	case isNotFound(err):
		return KeyState{KeyID: keyID}, nil
	case err != nil:
		return KeyState{}, storeErr(op, keyID, err)
	}
	return KeyState(st), nil
}

// SetKeyState replaces the state of key keyID, if its version is still
// from, with next's policy (normalized: see [NormalizePolicy]) and blocked
// flag, and returns the new state (version from+1). Every approver the
// policy names must be registered ([ErrInvalidArgument] otherwise). If the
// state changed meanwhile nothing happens and [ErrNotFound] is returned.
// Every open approval task on the key ends as cancelled: what was approved
// under the old state is not carried into the new.
func (s *Service) SetKeyState(ctx context.Context, keyID string, from int64, next KeyState) (KeyState, error) {
	const op = "set key state"
	if !validKeyID(keyID) {
		return KeyState{}, opErr(op, "", errWrap(ErrInvalidArgument, "malformed key ID"))
	}
	pol, err := NormalizePolicy(next.Policy)
	if err != nil {
		return KeyState{}, err
	}
	for _, id := range pol.Approvers() {
		if _, err := s.store.GetApprover(ctx, id); isNotFound(err) {
			return KeyState{}, opErr(op, keyID, errWrap(ErrInvalidArgument, "the policy names a principal that is not a registered approver"))
		} else if err != nil {
			return KeyState{}, storeErr(op, keyID, err)
		}
	}
	rec := KeyStateRecord{KeyID: keyID, Policy: pol, Blocked: next.Blocked, Version: from + 1}
	if err := s.store.SetKeyState(ctx, from, rec, s.now()); err != nil {
		return KeyState{}, storeErr(op, keyID, err)
	}
	return KeyState(rec), nil
}

// ForgetKeyState drops the state of a deleted key and cancels its open
// approval tasks; a key without state is not an error.
func (s *Service) ForgetKeyState(ctx context.Context, keyID string) error {
	if err := s.store.DeleteKeyState(ctx, keyID, s.now()); err != nil {
		return storeErr("forget key state", keyID, err)
	}
	return nil
}
