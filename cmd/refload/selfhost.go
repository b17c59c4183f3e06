package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/refserver/client"
)

// selfHosted is the in-process server refload loads by default.
type selfHosted struct {
	target  *target
	backend backend.Backend
	close   func()
}

// selfHost serves refserver in this process on 127.0.0.1 with TLS 1.3: a
// software: memory backend holding one key of algorithm a labelled "load",
// and a SQLite authn store in a temporary directory; the caller
// authenticates by a session (mode "session") or an API key ("apikey").
func selfHost(ctx context.Context, a backend.Algorithm, mode string) (*selfHosted, error) {
	dir, err := os.MkdirTemp("", "refload-")
	if err != nil {
		return nil, err
	}
	var closers []func()
	fail := func(err error) (*selfHosted, error) {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		os.RemoveAll(dir)
		return nil, err
	}
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "authn.db"))
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { store.Close() })
	pep := make([]byte, 32)
	rand.Read(pep)
	peppers, err := authn.ParsePeppers("1:" + base64.StdEncoding.EncodeToString(pep))
	if err != nil {
		return fail(err)
	}
	svc, err := authn.NewService(authn.Config{Store: store, Peppers: peppers})
	if err != nil {
		return fail(err)
	}
	b, err := backend.Open(ctx, "software:")
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { b.Close() })
	if _, err := b.GenerateKey(ctx, backend.KeySpec{Label: "load", Algorithm: a}); err != nil {
		return fail(err)
	}
	srv, err := refserver.New(refserver.Options{Backend: b, Auth: svc})
	if err != nil {
		return fail(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.EnableHTTP2 = true
	hs.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	hs.Config.MaxHeaderBytes = 16 << 10
	hs.Config.ReadHeaderTimeout = 10 * time.Second
	hs.Config.IdleTimeout = 120 * time.Second
	hs.StartTLS()
	closers = append(closers, hs.Close)
	tc := hs.Client().Transport.(*http.Transport).TLSClientConfig
	var cred string
	switch mode {
	case "session":
		const pw = "refload password 0123456789"
		if _, err := svc.CreateUser(ctx, "load@localhost", authn.NewSecret(pw), authn.NewRoleSet(authn.RoleKeyOperation)); err != nil {
			return fail(err)
		}
		c, err := client.New(hs.URL, client.WithTLSConfig(tc))
		if err != nil {
			return fail(err)
		}
		s, err := c.Login(ctx, "load@localhost", pw)
		if err != nil {
			return fail(err)
		}
		cred = "Bearer " + s.AccessToken
	case "apikey":
		_, keys, err := svc.CreateApplication(ctx, authn.ApplicationSpec{Name: "load", Roles: authn.NewRoleSet(authn.RoleKeyOperation), Method: authn.MethodAPIKey})
		if err != nil {
			return fail(err)
		}
		cred = keys[0].Key.Reveal()
	default:
		return fail(fmt.Errorf("-auth must be session or apikey"))
	}
	return &selfHosted{
		target:  &target{urls: []string{hs.URL}, tls: tc, cred: cred, label: "load"},
		backend: b,
		close: func() {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
			os.RemoveAll(dir)
		},
	}, nil
}
