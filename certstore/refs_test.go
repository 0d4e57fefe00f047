package certstore

import (
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in, id string
		ok     bool
	}{
		{"@certstore://dev-signer", "dev-signer", true},
		{"@certstore://", "", true},
		{"certs/signer.pem", "", false},
		{"", "", false},
		{"@CERTSTORE://x", "", false},
	}
	for _, tt := range tests {
		id, ok := ParseRef(tt.in)
		if id != tt.id || ok != tt.ok {
			t.Errorf("ParseRef(%q) = %q, %v", tt.in, id, ok)
		}
	}
	if Ref("a") != "@certstore://a" {
		t.Error(Ref("a"))
	}
}

// pkiStore builds root CA → intermediate CA → leaf, plus a second root, in
// a store: the roots tagged -cadefault, the leaf -enginedefault.
func pkiStore(t *testing.T) (path string, root, inter, leaf, root2 *x509.Certificate) {
	t.Helper()
	root, rootKey := newCert(t, "root", elliptic.P384(), true, nil, nil)
	inter, interKey := newCert(t, "intermediate", elliptic.P384(), true, root, rootKey)
	leaf, leafKey := newCert(t, "leaf", elliptic.P256(), false, inter, interKey)
	root2, _ = newCert(t, "root2", elliptic.P256(), true, nil, nil)
	other, otherKey := newCert(t, "other", elliptic.P521(), false, nil, nil)
	path = newTestStore(t)
	mustAdd(t, path,
		Element{ID: "nokey", Tags: []string{"spare"}, Cert: other},
		Element{ID: "root", Tags: []string{TagCADefault}, Cert: root},
		Element{ID: "inter", Cert: inter},
		Element{ID: "leaf", Tags: []string{TagEngineDefault}, Cert: leaf, Key: leafKey},
		Element{ID: "other", Tags: []string{TagEngineDefault}, Cert: other, Key: otherKey},
		Element{ID: "root2", Tags: []string{TagCADefault}, Cert: root2},
	)
	return
}

func TestStoreSignerAndTrust(t *testing.T) {
	path, root, inter, leaf, root2 := pkiStore(t)
	s, err := Open(path, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	// Empty ref: the first -enginedefault element, with the intermediate
	// as its chain (the root is left out).
	cert, chain, key, err := s.Signer("")
	if err != nil {
		t.Fatal(err)
	}
	if !cert.Equal(leaf) || len(chain) != 1 || !chain[0].Equal(inter) {
		t.Fatalf("signer %v chain %d", cert.Subject, len(chain))
	}
	sigCheck(t, cert, key)

	anchors, err := s.TrustAnchors(nil)
	if err != nil || len(anchors) != 2 || !anchors[0].Equal(root) || !anchors[1].Equal(root2) {
		t.Fatalf("anchors %d %v", len(anchors), err)
	}
	// The chain verifies against the -cadefault anchors.
	verifyChain(t, cert, chain, anchors)

	if c, _, _, err := s.Signer("@certstore://other"); err != nil || c.Subject.CommonName != "other" {
		t.Errorf("named signer: %v", err)
	}
	if a, err := s.TrustAnchors([]string{"@certstore://root2"}); err != nil || len(a) != 1 || !a[0].Equal(root2) {
		t.Errorf("named anchor: %v", err)
	}

	tests := []struct {
		name string
		err  func() error
		want Reason
	}{
		{"no key", func() error { _, _, _, err := s.Signer("@certstore://nokey"); return err }, ReasonNotFound},
		{"missing id", func() error { _, _, _, err := s.Signer("@certstore://nope"); return err }, ReasonNotFound},
		{"file path", func() error { _, _, _, err := s.Signer("leaf.pem"); return err }, ReasonInvalidArgument},
		{"bad id", func() error { _, _, _, err := s.Signer("@certstore://a b"); return err }, ReasonInvalidArgument},
		{"missing anchor", func() error { _, err := s.TrustAnchors([]string{"@certstore://nope"}); return err }, ReasonNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantReason(t, tt.err(), tt.want) })
	}

	empty := &Store{path: "x"}
	_, _, _, err = empty.Signer("")
	wantReason(t, err, ReasonNotFound)
	_, err = empty.TrustAnchors(nil)
	wantReason(t, err, ReasonNotFound)
}

func verifyChain(t *testing.T, leaf *x509.Certificate, chain, anchors []*x509.Certificate) {
	t.Helper()
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range anchors {
		roots.AddCert(c)
	}
	for _, c := range chain {
		inters.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("chain does not verify: %v", err)
	}
}

func writePEM(t *testing.T, path string, blocks ...*pem.Block) {
	t.Helper()
	var b []byte
	for _, bl := range blocks {
		b = append(b, pem.EncodeToMemory(bl)...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestResolver(t *testing.T) {
	path, root, inter, leaf, _ := pkiStore(t)
	dir := t.TempDir()
	s, _ := Open(path, testPassword)
	leafEl, _ := s.Get("leaf")
	otherEl, _ := s.Get("other")
	leafKeyDER, _ := x509.MarshalPKCS8PrivateKey(leafEl.Key)
	otherKeyDER, _ := x509.MarshalPKCS8PrivateKey(otherEl.Key)
	cert := func(c *x509.Certificate) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw} }
	writePEM(t, filepath.Join(dir, "leaf.pem"), cert(leaf), cert(inter))
	writePEM(t, filepath.Join(dir, "leaf.key"), &pem.Block{Type: "PRIVATE KEY", Bytes: leafKeyDER})
	writePEM(t, filepath.Join(dir, "other.key"), &pem.Block{Type: "PRIVATE KEY", Bytes: otherKeyDER})
	writePEM(t, filepath.Join(dir, "both.pem"), cert(leaf), &pem.Block{Type: "PRIVATE KEY", Bytes: leafKeyDER})
	writePEM(t, filepath.Join(dir, "ca.pem"), cert(root))
	f := func(name string) string { return filepath.Join(dir, name) }

	asked := 0
	withStore := func() *Resolver {
		return &Resolver{StoreFile: path, Password: func() ([]byte, error) {
			asked++
			return append([]byte(nil), testPassword...), nil
		}}
	}
	noStore := &Resolver{}

	ok := []struct {
		name            string
		r               *Resolver
		certRef, keyRef string
		chainLen        int
	}{
		{"defaults", withStore(), "", "", 1},
		{"store cert", withStore(), "@certstore://leaf", "", 1},
		{"store cert, store key", withStore(), "@certstore://leaf", "@certstore://leaf", 1},
		{"store cert, file key", withStore(), "@certstore://leaf", f("leaf.key"), 1},
		{"file cert with chain, file key", noStore, f("leaf.pem"), f("leaf.key"), 1},
		{"file cert and key in one file", noStore, f("both.pem"), "", 0},
		{"file cert, store key", withStore(), f("leaf.pem"), "@certstore://leaf", 1},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			c, chain, key, err := tt.r.Signer(tt.certRef, tt.keyRef)
			if err != nil {
				t.Fatal(err)
			}
			if !c.Equal(leaf) || len(chain) != tt.chainLen {
				t.Errorf("cert %v chain %d", c.Subject, len(chain))
			}
			sigCheck(t, c, key)
		})
	}
	bad := []struct {
		name            string
		r               *Resolver
		certRef, keyRef string
		want            Reason
	}{
		{"no store", noStore, "", "", ReasonInvalidArgument},
		{"key without cert", withStore(), "", f("leaf.key"), ReasonInvalidArgument},
		{"file cert without key", noStore, f("leaf.pem"), "", ReasonInvalidArgument},
		{"mismatched key", noStore, f("leaf.pem"), f("other.key"), ReasonKeyMismatch},
		{"mismatched store key", withStore(), "@certstore://leaf", "@certstore://other", ReasonKeyMismatch},
		{"missing cert file", noStore, f("nope.pem"), f("leaf.key"), ReasonIO},
		{"key file is no key", noStore, f("leaf.pem"), f("ca.pem"), ReasonInvalidElement},
		{"cert file is no cert", noStore, f("leaf.key"), f("leaf.key"), ReasonInvalidElement},
		{"store key has none", withStore(), "@certstore://leaf", "@certstore://root", ReasonNotFound},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := tt.r.Signer(tt.certRef, tt.keyRef)
			wantReason(t, err, tt.want)
		})
	}

	// Trust anchors: defaults, references and files, mixed.
	r := withStore()
	asked = 0
	for _, refs := range [][]string{nil, {""}, {"@certstore://root", f("ca.pem")}} {
		a, err := r.TrustAnchors(refs)
		if err != nil || len(a) < 1 || !a[0].Equal(root) {
			t.Errorf("TrustAnchors(%q): %d, %v", refs, len(a), err)
		}
	}
	if asked != 1 {
		t.Errorf("password asked %d times, want once", asked)
	}
	if a, err := noStore.TrustAnchors([]string{f("ca.pem")}); err != nil || len(a) != 1 {
		t.Errorf("file anchors without a store: %v", err)
	}
	_, err := noStore.TrustAnchors(nil)
	wantReason(t, err, ReasonInvalidArgument)
	_, err = (&Resolver{StoreFile: path, Password: func() ([]byte, error) { return []byte("x"), nil }}).TrustAnchors(nil)
	wantReason(t, err, ReasonWrongPassword)
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tlseal.json")
	os.WriteFile(cfg, []byte(`{
  "certStoreFileName": "store.ecs",
  "certStorePasswordHex": "0a0B",
  "security": {"certificate": "@certstore://leaf", "key": "keys/leaf.key"},
  "caCertificates": ["@certstore://root", "/abs/ca.pem", "ca.pem"],
  "watch": {"source": "in"}
}`), 0o600)
	c, err := LoadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.CertStoreFileName != filepath.Join(dir, "store.ecs") || c.CertStorePasswordHex != "0a0B" ||
		c.Security.Certificate != "@certstore://leaf" || c.Security.Key != filepath.Join(dir, "keys", "leaf.key") ||
		len(c.CACertificates) != 3 || c.CACertificates[0] != "@certstore://root" ||
		c.CACertificates[1] != "/abs/ca.pem" || c.CACertificates[2] != filepath.Join(dir, "ca.pem") {
		t.Errorf("config %+v", c)
	}
	// A PKCS#11 URI is a key reference, not a path under the config's directory.
	uri := "pkcs11:token=recorder-7;object=seal-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/tlseal/hsm.pin"
	os.WriteFile(cfg, []byte(`{"security": {"certificate": "c.pem", "key": "`+uri+`"}}`), 0o600)
	if c, err := LoadConfig(cfg); err != nil || c.Security.Key != uri || c.Security.Certificate != filepath.Join(dir, "c.pem") {
		t.Errorf("a pkcs11 key in the config: %+v, %v", c, err)
	}
	for name, body := range map[string]string{
		"not json":     `{`,
		"bad password": `{"certStorePasswordHex":"xyz"}`,
		"wrong type":   `{"caCertificates":"ca.pem"}`,
	} {
		os.WriteFile(cfg, []byte(body), 0o600)
		if _, err := LoadConfig(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing config: no error")
	}
}

func TestDevPKI(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, curve := range []string{"", "P-256", "P-384", "P-521"} {
		t.Run("curve "+curve, func(t *testing.T) {
			path := newTestStore(t)
			var pki DevPKI
			err := Update(path, testPassword, func(s *Store) error {
				var err error
				pki, err = InitDevPKI(s, curve, now)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, testPassword)
			if err != nil {
				t.Fatal(err)
			}
			ca, sg := pki.CA.Cert, pki.Signer.Cert
			if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 || !pki.CA.HasTag(TagCADefault) {
				t.Errorf("CA: isCA %v usage %v tags %v", ca.IsCA, ca.KeyUsage, pki.CA.Tags)
			}
			if sg.IsCA || sg.KeyUsage != x509.KeyUsageDigitalSignature || !pki.Signer.HasTag(TagEngineDefault) {
				t.Errorf("signer: isCA %v usage %v tags %v", sg.IsCA, sg.KeyUsage, pki.Signer.Tags)
			}
			for _, c := range []*x509.Certificate{ca, sg} {
				if !strings.Contains(c.Subject.String(), "DEVELOPMENT") {
					t.Errorf("subject %q does not say DEVELOPMENT", c.Subject)
				}
				if !c.NotBefore.Equal(now.Add(-time.Hour)) {
					t.Errorf("notBefore %v", c.NotBefore)
				}
			}
			if got := sg.NotAfter.Sub(sg.NotBefore); got != 2*365*24*time.Hour {
				t.Errorf("signer validity %v", got)
			}
			want := curve
			if want == "" {
				want = "P-256"
			}
			if PublicKeyName(sg.PublicKey) != "ECDSA "+want {
				t.Errorf("key %s", PublicKeyName(sg.PublicKey))
			}
			// Signing with the defaults and verifying against -cadefault.
			cert, chain, key, err := s.Signer("")
			if err != nil || !cert.Equal(sg) {
				t.Fatalf("default signer: %v", err)
			}
			sigCheck(t, cert, key)
			anchors, err := s.TrustAnchors(nil)
			if err != nil || len(anchors) != 1 || !anchors[0].Equal(ca) {
				t.Fatalf("anchors: %v", err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(anchors[0])
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, Intermediates: poolOf(chain)}); err != nil {
				t.Error(err)
			}
			// A second init is refused and changes nothing.
			before, _ := os.ReadFile(path)
			err = Update(path, testPassword, func(s *Store) error { _, err := InitDevPKI(s, curve, now); return err })
			wantReason(t, err, ReasonExists)
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("file changed")
			}
		})
	}
	_, err := InitDevPKI(&Store{}, "P-224", now)
	wantReason(t, err, ReasonInvalidArgument)
}

func poolOf(cs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c)
	}
	return p
}
