package remote_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/conformance"
	"github.com/cryptoplug/cryptoplug/internal/scryptcost"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
)

// The conformance suite over the mTLS transport: the remote backend
// authenticated by a client certificate whose key lives in swtpm, with no
// credential on the client, in front of a server serving an encrypted
// software directory store. The store behind the server is the one
// conformance's remote-software-dir default already covers with every
// algorithm; what is new here is the transport, so one algorithm of each
// family keeps the run short (about 20 s instead of 90 on 2 busy cores).
func TestConformanceOverMTLS(t *testing.T) {
	t.Cleanup(scryptcost.SetForTests(scryptcost.Min))
	dir := t.TempDir()
	pass := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(pass, []byte("cryptoplug conformance passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := refservertest.Start(t, refservertest.Options{
		BackendURI:         "software:dir=" + filepath.Join(dir, "keys") + "?pin-source=file:" + pass,
		ClientCertificates: true,
	})
	keyURI, pub := tpmClientKey(t, "client")
	_, certFile := in.CertificateApplication(t, pub, authn.RoleKeyManagement, authn.RoleKeyOperation)
	uri := remoteURI(in, certFile, "client", keyURI)

	report := new(conformance.Report)
	conformance.Run(t, conformance.OpenURI(uri),
		conformance.WithReport(report),
		conformance.WithAlgorithms(backend.RSA2048, backend.ECDSAP256, backend.Ed25519, backend.MLDSA44, backend.MLKEM768),
		conformance.WithSignatureBudget(600),
		conformance.WithConcurrency(8, 10))
	var b strings.Builder
	if err := report.Matrix(&b); err == nil {
		t.Logf("conformance matrix over mTLS:\n%s", b.String())
	}
}
