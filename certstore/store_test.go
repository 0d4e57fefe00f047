package certstore

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCreateOpenEmpty(t *testing.T) {
	path := newTestStore(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	s, err := Open(path, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 || s.Iterations() != testIter || s.ID() == "" {
		t.Errorf("store: len %d iter %d id %q", s.Len(), s.Iterations(), s.ID())
	}
	d := s.Descriptor()
	if d.Version != 1 || d.Flags != 0 || d.FileName != path || d.ID != s.ID() || d.Certificates == nil {
		t.Errorf("descriptor %+v", d)
	}
	_, err = Create(path, testPassword, CreateOptions{Iterations: testIter})
	wantReason(t, err, ReasonExists)
}

func TestCreateDefaultIterations(t *testing.T) {
	if testing.Short() {
		t.Skip("full key derivation")
	}
	path := filepath.Join(t.TempDir(), "s.ecs")
	if _, err := Create(path, testPassword, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if s.Iterations() != DefaultIterations || DefaultIterations < 600_000 {
		t.Errorf("iterations %d", s.Iterations())
	}
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		err  func() error
		want Reason
	}{
		{"create empty password", func() error {
			_, err := Create(filepath.Join(dir, "a"), nil, CreateOptions{Iterations: testIter})
			return err
		}, ReasonInvalidArgument},
		{"create low iterations", func() error {
			_, err := Create(filepath.Join(dir, "b"), testPassword, CreateOptions{Iterations: 10})
			return err
		}, ReasonInvalidArgument},
		{"open empty password", func() error { _, err := Open(filepath.Join(dir, "c"), nil); return err }, ReasonInvalidArgument},
		{"open missing", func() error { _, err := Open(filepath.Join(dir, "c"), testPassword); return err }, ReasonNotFound},
		{"update missing", func() error {
			return Update(filepath.Join(dir, "c"), testPassword, func(*Store) error { return nil })
		}, ReasonNotFound},
		{"create in missing dir", func() error {
			_, err := Create(filepath.Join(dir, "no", "such"), testPassword, CreateOptions{Iterations: testIter})
			return err
		}, ReasonIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantReason(t, tt.err(), tt.want) })
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Error("a store was created despite the error")
	}
	if _, err := os.Stat(filepath.Join(dir, "c.lock")); err == nil {
		t.Error("Update of a missing store left a lock file")
	}
}

// TestElementRoundTrip adds, reads, retags and deletes elements through the
// file and checks every field survives.
func TestElementRoundTrip(t *testing.T) {
	path := newTestStore(t)
	ca, caKey := newCert(t, "CA", elliptic.P384(), true, nil, nil)
	leaf, leafKey := newCert(t, "leaf", elliptic.P256(), false, ca, caKey)
	mustAdd(t, path,
		Element{ID: "ca", Tags: []string{TagCADefault}, Cert: ca},
		Element{ID: "leaf", Tags: []string{TagEngineDefault, "b", "b"}, Cert: leaf, Key: leafKey},
	)
	s, err := Open(path, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	es := s.Elements()
	if len(es) != 2 || es[0].ID != "ca" || es[1].ID != "leaf" {
		t.Fatalf("elements %v", es)
	}
	if !es[0].Cert.Equal(ca) || es[0].Key != nil || !slices.Equal(es[0].Tags, []string{TagCADefault}) {
		t.Errorf("ca element %+v", es[0])
	}
	if !es[1].Cert.Equal(leaf) || es[1].Key == nil || !leafKey.Equal(es[1].Key) {
		t.Errorf("leaf element key lost")
	}
	if !slices.Equal(es[1].Tags, []string{TagEngineDefault, "b"}) {
		t.Errorf("tags %q, want duplicates dropped", es[1].Tags)
	}
	b, _ := pem.Decode(es[1].CertPEM)
	if b == nil || b.Type != "CERTIFICATE" || !bytes.Equal(b.Bytes, leaf.Raw) {
		t.Errorf("CertPEM wrong")
	}
	// Elements returns copies.
	es[1].Tags[0] = "changed"
	if e, _ := s.Get("leaf"); e.Tags[0] != TagEngineDefault {
		t.Error("Elements aliases the store")
	}

	// Descriptor: JSON members and no key material.
	js, err := json.Marshal(s.Descriptor())
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	json.Unmarshal(js, &generic)
	for _, k := range []string{"id", "fileName", "version", "flags", "certificates"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("descriptor lacks %q: %s", k, js)
		}
	}
	if bytes.Contains(js, []byte("PRIVATE")) {
		t.Error("descriptor contains a private key")
	}
	cd := es[1].Describe()
	if !cd.HasPrivateKey || cd.PublicKey != "ECDSA P-256" || cd.Subject != "CN=leaf" || cd.Issuer != "CN=CA" ||
		!slices.Equal(cd.KeyUsage, []string{"digitalSignature"}) || cd.IsCA || cd.SelfSigned || len(cd.SHA256) != 64 {
		t.Errorf("describe %+v", cd)
	}

	// Tags, delete, and the errors of each.
	err = Update(path, testPassword, func(s *Store) error {
		if err := s.SetTags("ca", []string{"x", "y"}); err != nil {
			return err
		}
		wantReason(t, s.SetTags("nope", nil), ReasonNotFound)
		wantReason(t, s.SetTags("ca", []string{"a,b"}), ReasonInvalidElement)
		wantReason(t, s.Delete("nope"), ReasonNotFound)
		wantReason(t, s.Add(Element{ID: "ca", Cert: ca}), ReasonExists)
		return s.Delete("leaf")
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Fatalf("len %d after delete", s.Len())
	}
	if e, _ := s.Get("ca"); !slices.Equal(e.Tags, []string{"x", "y"}) {
		t.Errorf("tags %q", e.Tags)
	}
	_, err = s.Get("leaf")
	wantReason(t, err, ReasonNotFound)
}

func TestAddValidation(t *testing.T) {
	cert, key := newCert(t, "a", elliptic.P256(), false, nil, nil)
	_, other := newCert(t, "b", elliptic.P256(), false, nil, nil)
	tests := []struct {
		name string
		e    Element
		want Reason
	}{
		{"empty id", Element{ID: "", Cert: cert}, ReasonInvalidElement},
		{"id with slash", Element{ID: "a/b", Cert: cert}, ReasonInvalidElement},
		{"id starting with dash", Element{ID: "-a", Cert: cert}, ReasonInvalidElement},
		{"long id", Element{ID: string(bytes.Repeat([]byte("a"), 129)), Cert: cert}, ReasonInvalidElement},
		{"no cert", Element{ID: "a"}, ReasonInvalidElement},
		{"tag with space", Element{ID: "a", Cert: cert, Tags: []string{"a b"}}, ReasonInvalidElement},
		{"empty tag", Element{ID: "a", Cert: cert, Tags: []string{""}}, ReasonInvalidElement},
		{"wrong key", Element{ID: "a", Cert: cert, Key: other}, ReasonKeyMismatch},
		{"ok", Element{ID: "a.b_c-1", Cert: cert, Key: key, Tags: []string{"-x"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{}
			err := s.Add(tt.e)
			if tt.want == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantReason(t, err, tt.want)
			if s.Len() != 0 || s.dirty {
				t.Error("store changed by a refused Add")
			}
		})
	}
}

// TestFailedUpdateWritesNothing: an error from the callback leaves the file
// as it was, and an unchanged store is not rewritten.
func TestFailedUpdateWritesNothing(t *testing.T) {
	path := newTestStore(t)
	before, _ := os.ReadFile(path)
	cert, _ := newCert(t, "a", elliptic.P256(), false, nil, nil)
	err := Update(path, testPassword, func(s *Store) error {
		s.Add(Element{ID: "a", Cert: cert})
		return s.Delete("missing")
	})
	wantReason(t, err, ReasonNotFound)
	if err := Update(path, testPassword, func(*Store) error { return nil }); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("file changed")
	}
}

// TestEveryWriteIsFresh: salt and IV differ on every write.
func TestEveryWriteIsFresh(t *testing.T) {
	path := newTestStore(t)
	cert, _ := newCert(t, "a", elliptic.P256(), false, nil, nil)
	var files [][]byte
	for i, tags := range [][]string{{"x"}, {"y"}, {"x"}} {
		err := Update(path, testPassword, func(s *Store) error {
			if i == 0 {
				s.Add(Element{ID: "a", Cert: cert})
			}
			return s.SetTags("a", tags)
		})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		files = append(files, b)
	}
	if bytes.Equal(files[0][offSalt:offSalt+saltSize], files[2][offSalt:offSalt+saltSize]) ||
		bytes.Equal(files[0][offIV:offIV+ivSize], files[2][offIV:offIV+ivSize]) {
		t.Error("salt or IV reused")
	}
	if bytes.Equal(files[0][offCipher:], files[2][offCipher:]) {
		t.Error("same content gave the same ciphertext")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != "store.ecs" && e.Name() != "store.ecs.lock" {
			t.Errorf("stray file %s", e.Name())
		}
	}
}

func TestSymlinkedStore(t *testing.T) {
	path := newTestStore(t)
	link := filepath.Join(t.TempDir(), "link.ecs")
	if err := os.Symlink(path, link); err != nil {
		t.Skip(err)
	}
	cert, _ := newCert(t, "a", elliptic.P256(), false, nil, nil)
	mustAdd(t, link, Element{ID: "a", Cert: cert})
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced")
	}
	if s, err := Open(path, testPassword); err != nil || s.Len() != 1 {
		t.Errorf("target not updated: %v", err)
	}
}

// TestInvalidContentRefused encrypts hand-made documents with the right
// password: each invalid element is refused on open.
func TestInvalidContentRefused(t *testing.T) {
	cert, key := newCert(t, "a", elliptic.P256(), false, nil, nil)
	_, other := newCert(t, "b", elliptic.P256(), false, nil, nil)
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	otherPK, _ := x509.MarshalPKCS8PrivateKey(other)
	doc := func(es ...fileElement) []byte {
		b, err := json.Marshal(fileContent{ID: "x", Elements: es})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		content []byte
		want    Reason
	}{
		{"valid", doc(fileElement{ID: "a", Certificate: cert.Raw, PrivateKey: pk}), 0},
		{"not json", []byte("{"), ReasonInvalidElement},
		{"unknown member", []byte(`{"id":"x","elements":[],"extra":1}`), ReasonInvalidElement},
		{"trailing", []byte(`{"id":"x","elements":[]} {}`), ReasonInvalidElement},
		{"no id", []byte(`{"elements":[]}`), ReasonInvalidElement},
		{"bad cert", doc(fileElement{ID: "a", Certificate: []byte{1, 2, 3}}), ReasonInvalidElement},
		{"bad key", doc(fileElement{ID: "a", Certificate: cert.Raw, PrivateKey: []byte{1, 2}}), ReasonInvalidElement},
		{"key mismatch", doc(fileElement{ID: "a", Certificate: cert.Raw, PrivateKey: otherPK}), ReasonKeyMismatch},
		{"duplicate id", doc(fileElement{ID: "a", Certificate: cert.Raw}, fileElement{ID: "a", Certificate: cert.Raw}), ReasonInvalidElement},
		{"bad id", doc(fileElement{ID: "a b", Certificate: cert.Raw}), ReasonInvalidElement},
		{"bad tag", doc(fileElement{ID: "a", Tags: []string{""}, Certificate: cert.Raw}), ReasonInvalidElement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := encryptFile(tt.content, testPassword, testIter)
			if err != nil {
				t.Fatal(err)
			}
			_, err = openBytes("s", data, testPassword)
			if tt.want == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantReason(t, err, tt.want)
		})
	}
}

func TestPasswordFromHex(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		ok   bool
	}{
		{"00ff10", []byte{0, 0xff, 0x10}, true},
		{"00:FF:10", []byte{0, 0xff, 0x10}, true},
		{" 0a 0b\n", []byte{10, 11}, true},
		{"", nil, false},
		{"abc", nil, false},
		{"zz", nil, false},
	}
	for _, tt := range tests {
		got, err := PasswordFromHex(tt.in)
		if (err == nil) != tt.ok || !bytes.Equal(got, tt.want) {
			t.Errorf("PasswordFromHex(%q) = %x, %v", tt.in, got, err)
		}
		if err != nil && bytes.Contains([]byte(err.Error()), []byte("z")) {
			t.Errorf("error quotes the password: %v", err)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Reason: ReasonWrongPassword, Path: "a.ecs", Detail: "d"}
	if got, want := e.Error(), "certstore a.ecs: wrong password: d"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	wrapped := &Error{Reason: ReasonIO, Err: os.ErrPermission}
	if ReasonOf(wrapped) != ReasonIO || !bytes.Contains([]byte(wrapped.Error()), []byte("permission")) {
		t.Errorf("%v", wrapped)
	}
	if ReasonOf(os.ErrClosed) != 0 {
		t.Error("ReasonOf a foreign error")
	}
}
