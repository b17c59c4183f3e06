package authn

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// MinPepperLen is the shortest pepper key accepted, in bytes.
const MinPepperLen = 32

// PepperSet holds the server-side keys ("peppers") that tokens are hashed
// under before they are stored: the store keeps HMAC-SHA-256(pepper, token)
// and the pepper's version, never the token. A stolen database therefore
// does not let anyone check guesses offline without the pepper too.
//
// Several versions can be active at once so that the pepper can be rotated:
// new hashes use the current version, lookups try every version, and a
// credential found under an older version is re-hashed to the current one.
// Rotate in three steps across all server instances: add the new version
// (still not current), make it current, and drop the old one once the
// credentials hashed under it have been used or have expired.
//
// A PepperSet is immutable and safe for concurrent use.
type PepperSet struct {
	current *pepperKey
	all     []*pepperKey // current first
}

type pepperKey struct {
	version uint32
	pool    sync.Pool // of hash.Hash (HMAC-SHA-256 keyed with this pepper)
}

// NewPepperSet returns a set holding keys (version → key). current names the
// version used for new hashes. Versions start at 1; keys must be at least
// [MinPepperLen] bytes. The keys are copied.
func NewPepperSet(current uint32, keys map[uint32][]byte) (*PepperSet, error) {
	const op = "new pepper set"
	if _, ok := keys[current]; !ok {
		return nil, opErr(op, "v"+strconv.FormatUint(uint64(current), 10), errWrap(ErrInvalidArgument, "current version has no key"))
	}
	versions := make([]uint32, 0, len(keys))
	for v, k := range keys {
		if v == 0 {
			return nil, opErr(op, "v0", errWrap(ErrInvalidArgument, "versions start at 1"))
		}
		if len(k) < MinPepperLen {
			return nil, opErr(op, "v"+strconv.FormatUint(uint64(v), 10), errWrap(ErrInvalidArgument, "key shorter than "+strconv.Itoa(MinPepperLen)+" bytes"))
		}
		versions = append(versions, v)
	}
	// Current first, then newest to oldest: the likeliest match is tried first.
	slices.SortFunc(versions, func(a, b uint32) int {
		switch {
		case a == current:
			return -1
		case b == current:
			return 1
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	s := &PepperSet{}
	for _, v := range versions {
		key := slices.Clone(keys[v])
		pk := &pepperKey{version: v}
		pk.pool.New = func() any { return hmac.New(sha256.New, key) }
		s.all = append(s.all, pk)
	}
	s.current = s.all[0]
	return s, nil
}

// ParsePeppers reads a pepper set from text: entries separated by newlines
// or commas, each "<version>:<standard base64 key>", plus optionally
// "current=<version>". Without a current entry the highest version is
// current. Blank entries and lines starting with '#' are ignored.
// Duplicate versions are an error.
func ParsePeppers(text string) (*PepperSet, error) {
	const op = "parse peppers"
	keys := map[uint32][]byte{}
	var current uint32
	for line := range strings.FieldsFuncSeq(text, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if v, ok := strings.CutPrefix(line, "current="); ok {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || current != 0 {
				return nil, opErr(op, "current", errWrap(ErrInvalidArgument, "bad or repeated current= entry"))
			}
			current = uint32(n)
			continue
		}
		ver, b64, ok := strings.Cut(line, ":")
		n, err := strconv.ParseUint(strings.TrimSpace(ver), 10, 32)
		if !ok || err != nil {
			return nil, opErr(op, "", errWrap(ErrInvalidArgument, "entry is not <version>:<base64 key>"))
		}
		id := "v" + strconv.FormatUint(n, 10)
		if _, dup := keys[uint32(n)]; dup {
			return nil, opErr(op, id, errWrap(ErrInvalidArgument, "duplicate version"))
		}
		key, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(b64))
		if err != nil {
			return nil, opErr(op, id, errWrap(ErrInvalidArgument, "key is not standard base64"))
		}
		keys[uint32(n)] = key
	}
	if len(keys) == 0 {
		return nil, opErr(op, "", errWrap(ErrInvalidArgument, "no pepper"))
	}
	if current == 0 {
		for v := range keys {
			current = max(current, v)
		}
	}
	return NewPepperSet(current, keys)
}

// LoadPepperFile reads a pepper set in the [ParsePeppers] format from a file.
func LoadPepperFile(path string) (*PepperSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, opErr("load pepper file", path, err)
	}
	return ParsePeppers(string(b))
}

// PeppersFromEnv reads a pepper set in the [ParsePeppers] format from the
// environment variable name. An unset or empty variable is an error.
func PeppersFromEnv(name string) (*PepperSet, error) {
	v := os.Getenv(name)
	if v == "" {
		return nil, opErr("load peppers from environment", name, errWrap(ErrInvalidArgument, "variable unset or empty"))
	}
	return ParsePeppers(v)
}

// Current returns the version new hashes are made under.
func (s *PepperSet) Current() uint32 { return s.current.version }

// Versions returns every active version, current first.
func (s *PepperSet) Versions() []uint32 {
	out := make([]uint32, len(s.all))
	for i, k := range s.all {
		out[i] = k.version
	}
	return out
}

// String lists the versions, never the keys.
func (s *PepperSet) String() string {
	var b strings.Builder
	b.WriteString("PepperSet{current: v")
	b.WriteString(strconv.FormatUint(uint64(s.current.version), 10))
	b.WriteString(", versions:")
	for _, k := range s.all {
		b.WriteString(" v")
		b.WriteString(strconv.FormatUint(uint64(k.version), 10))
	}
	b.WriteByte('}')
	return b.String()
}

// GoString is String, so that %#v does not print the keys.
func (s *PepperSet) GoString() string { return s.String() }

// sum appends HMAC-SHA-256(pepper, token) to dst.
func (k *pepperKey) sum(dst []byte, token string) []byte {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(token))
	dst = h.Sum(dst)
	k.pool.Put(h)
	return dst
}

// hashCurrent returns the token's hash under the current pepper.
func (s *PepperSet) hashCurrent(token Secret) ([]byte, uint32) {
	return s.current.sum(make([]byte, 0, sha256.Size), token.v), s.current.version
}
