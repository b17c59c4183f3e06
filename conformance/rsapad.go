package conformance

import (
	"crypto"
	"crypto/rsa"
	"encoding/binary"
	"math/big"
)

// The decryption checks need ciphertexts whose padding is wrong in one
// precise way. They are built from the public key alone, c = EM^e mod n, so
// they work against keys that can never be imported or exported.

// rawEncrypt returns EM^e mod n as a modulus-sized big-endian byte string.
func rawEncrypt(pub *rsa.PublicKey, em []byte) []byte {
	m := new(big.Int).SetBytes(em)
	c := m.Exp(m, big.NewInt(int64(pub.E)), pub.N)
	return c.FillBytes(make([]byte, pub.Size()))
}

// pkcs1EM returns the PKCS #1 v1.5 encryption block
// 0x00 || 0x02 || PS (psLen non-zero bytes) || 0x00 || msg, padded to k
// bytes by making PS as long as needed when psLen is 0.
func pkcs1EM(k int, msg []byte, psLen int) []byte {
	if psLen == 0 {
		psLen = k - 3 - len(msg)
	}
	em := make([]byte, 0, k)
	em = append(em, 0x00, 0x02)
	em = append(em, nonZeroBytes(psLen)...)
	em = append(em, 0x00)
	em = append(em, msg...)
	return em
}

func nonZeroBytes(n int) []byte {
	b := randomBytes(n)
	for i := range b {
		for b[i] == 0 {
			b[i] = randomBytes(1)[0]
		}
	}
	return b
}

// oaepEM returns an OAEP encryption block (RFC 8017, section 7.1.1) for msg
// of k bytes with hash h for the label hash and MGF1. mutateDB, when not
// nil, changes the data block lHash || PS || 0x01 || M before it is masked;
// firstByte is the leading byte, 0x00 in a valid block.
func oaepEM(k int, h crypto.Hash, label, msg []byte, mutateDB func(db []byte), firstByte byte) []byte {
	hLen := h.Size()
	db := make([]byte, k-hLen-1)
	copy(db, hashOf(h, label))
	db[len(db)-len(msg)-1] = 0x01
	copy(db[len(db)-len(msg):], msg)
	if mutateDB != nil {
		mutateDB(db)
	}
	seed := randomBytes(hLen)
	xorInto(db, mgf1(h, seed, len(db)))
	xorInto(seed, mgf1(h, db, hLen))
	em := make([]byte, 0, k)
	em = append(em, firstByte)
	em = append(em, seed...)
	return append(em, db...)
}

// mgf1 is the mask generation function of RFC 8017, appendix B.2.1.
func mgf1(h crypto.Hash, seed []byte, n int) []byte {
	var out []byte
	var counter [4]byte
	for i := uint32(0); len(out) < n; i++ {
		binary.BigEndian.PutUint32(counter[:], i)
		hh := h.New()
		hh.Write(seed)
		hh.Write(counter[:])
		out = hh.Sum(out)
	}
	return out[:n]
}

func xorInto(dst, mask []byte) {
	for i := range dst {
		dst[i] ^= mask[i]
	}
}
