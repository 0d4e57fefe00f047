package certstore

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"slices"
	"testing"
	"time"
)

// A CA's CRL kept with its element: it survives the store file, tags the
// element -crl, is offered by the resolver, and a CRL the element did not
// sign is refused.
func TestElementCRL(t *testing.T) {
	ca, caKey := newCert(t, "ca", elliptic.P256(), true, nil, nil)
	other, otherKey := newCert(t, "other", elliptic.P256(), true, nil, nil)
	mk := func(issuer *x509.Certificate, key crypto.Signer) []byte {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
			ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour)}, issuer, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	good, forged := mk(ca, caKey), mk(other, otherKey)
	path := newTestStore(t)
	mustAdd(t, path, Element{ID: "ca", Cert: ca, Tags: []string{TagCADefault}})
	err := Update(path, testPassword, func(s *Store) error { return s.SetCRL("ca", forged) })
	wantReason(t, err, ReasonInvalidElement)
	err = Update(path, testPassword, func(s *Store) error { return s.SetCRL("ca", []byte("not DER")) })
	wantReason(t, err, ReasonInvalidElement)
	err = Update(path, testPassword, func(s *Store) error { return s.SetCRL("nobody", good) })
	wantReason(t, err, ReasonNotFound)
	if err := Update(path, testPassword, func(s *Store) error { return s.SetCRL("ca", good) }); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Get("ca")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.CRL, good) || !e.HasTag(TagCRL) || !e.HasTag(TagCADefault) {
		t.Fatalf("element after SetCRL: tags %v, CRL kept %t", e.Tags, slices.Equal(e.CRL, good))
	}
	// Removing it drops the tag too.
	if err := Update(path, testPassword, func(s *Store) error { return s.SetCRL("ca", nil) }); err != nil {
		t.Fatal(err)
	}
	s, _ = Open(path, testPassword)
	if e, _ := s.Get("ca"); e.CRL != nil || e.HasTag(TagCRL) {
		t.Fatalf("after removal: tags %v, CRL %d bytes", e.Tags, len(e.CRL))
	}
	// A store document holding a CRL of another CA does not open.
	bad := &Store{}
	if err := bad.Add(Element{ID: "ca", Cert: ca, CRL: forged}); err == nil {
		t.Fatal("an element with a CRL its certificate did not sign was accepted")
	}
}
