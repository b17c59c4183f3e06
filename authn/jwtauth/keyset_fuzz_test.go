package jwtauth

import (
	"testing"
	"time"
)

// FuzzParseKeySet feeds arbitrary documents to the JWKS parser: an issuer's
// key set arrives over the network. It must not panic, and whatever it
// accepts holds only public keys of the supported types.
func FuzzParseKeySet(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","kid":"s","k":"AAAA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":{}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		tab, _, err := parseKeySet(doc, time.Unix(0, 0))
		if err != nil {
			return
		}
		for kid, keys := range tab.byKID {
			if kid == "" || len(keys) == 0 || len(keys) > maxKeysPerKID {
				t.Fatalf("kid %q with %d keys", kid, len(keys))
			}
			for _, k := range keys {
				ok := false
				for _, a := range supportedAlgorithms {
					ok = ok || k.fits(a)
				}
				if !ok {
					t.Fatalf("kid %q: key %T fits no supported algorithm", kid, k.key)
				}
			}
		}
	})
}
