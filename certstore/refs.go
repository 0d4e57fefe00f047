package certstore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/tlseal/tlseal/tokenkey"
)

// RefPrefix starts a reference to a store element: "@certstore://ID".
const RefPrefix = "@certstore://"

// ParseRef splits a "@certstore://ID" reference. ok is false if s is not a
// store reference (then it is a file path, or empty); id may still be
// invalid (see ValidID) when ok is true.
func ParseRef(s string) (id string, ok bool) {
	id, ok = strings.CutPrefix(s, RefPrefix)
	if !ok {
		return "", false
	}
	return id, true
}

// Ref returns the reference to the element with the given ID.
func Ref(id string) string { return RefPrefix + id }

func (s *Store) lookupRef(ref string) (Element, error) {
	id, ok := ParseRef(ref)
	if !ok {
		return Element{}, errorf(ReasonInvalidArgument, s.path, nil, "%q is not a %sID reference", ref, RefPrefix)
	}
	if !ValidID(id) {
		return Element{}, errorf(ReasonInvalidArgument, s.path, nil, "invalid element ID in reference %q", ref)
	}
	return s.Get(id)
}

// Signer resolves a signing identity in the store. ref is "@certstore://ID"
// or empty; empty means the first element tagged "-enginedefault". The
// element must have a private key, an ECDSA key on P-256, P-384 or P-521.
// chain holds the intermediate CA certificates found in the store, leaf-most
// first (self-signed roots are left out: they are trust anchors).
func (s *Store) Signer(ref string) (cert *x509.Certificate, chain []*x509.Certificate, key crypto.Signer, err error) {
	var e Element
	if ref == "" {
		found := false
		for _, el := range s.elements {
			if el.HasTag(TagEngineDefault) {
				e, found = el, true
				break
			}
		}
		if !found {
			return nil, nil, nil, errorf(ReasonNotFound, s.path, nil, "no element tagged %s (name one with %sID, or run tlseal pki init)", TagEngineDefault, RefPrefix)
		}
	} else if e, err = s.lookupRef(ref); err != nil {
		return nil, nil, nil, err
	}
	key, err = s.elementKey(e)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := CheckSigningKey(key); err != nil {
		return nil, nil, nil, &Error{Reason: ReasonUnsupportedKey, Path: s.path, Detail: "element " + e.ID, Err: err}
	}
	return e.Cert, s.intermediates(e.Cert), key, nil
}

// elementKey is the element's signing key: its own, or the one its key
// reference names (which must belong to its certificate).
func (s *Store) elementKey(e Element) (crypto.Signer, error) {
	switch {
	case e.Key != nil:
		return e.Key, nil
	case e.KeyRef == "":
		return nil, errorf(ReasonNotFound, s.path, nil, "element %q has no private key", e.ID)
	}
	k, err := tokenkey.Resolve(e.KeyRef)
	if err != nil {
		return nil, err
	}
	if !keyMatches(k.Signer, e.Cert) {
		return nil, errorf(ReasonKeyMismatch, s.path, nil, "element %q: the key %s does not belong to its certificate", e.ID, tokenkey.Redact(e.KeyRef))
	}
	return k.Signer, nil
}

// NewRefElement builds an element whose key stays outside the store:
// ref is a PKCS#11 URI or an external signer. The key is reached now, so
// that a typo or a wrong certificate is found when the element is added,
// not at its first seal. cert may be nil for a PKCS#11 key whose token
// holds its certificate.
func NewRefElement(id, ref string, cert *x509.Certificate, tags []string) (Element, error) {
	if !tokenkey.IsRef(ref) {
		return Element{}, errorf(ReasonInvalidArgument, "", nil, "%q is neither a %s URI nor %s/path", ref, tokenkey.Scheme, tokenkey.ExecScheme)
	}
	k, err := tokenkey.Resolve(ref)
	if err != nil {
		return Element{}, err
	}
	if cert == nil {
		cert = k.Cert
	}
	if cert == nil {
		return Element{}, errorf(ReasonInvalidArgument, "", nil, "give the key's certificate (the token holds none beside it)")
	}
	if !keyMatches(k.Signer, cert) {
		return Element{}, inputErrorf(ReasonKeyMismatch, tokenkey.Redact(ref), nil, "the key does not belong to certificate %q", cert.Subject.String())
	}
	return Element{ID: id, Tags: tags, Cert: cert, KeyRef: ref}, nil
}

// TrustAnchors resolves trust anchors in the store: each ref is
// "@certstore://ID"; no refs means every element tagged "-cadefault" (at
// least one must exist).
func (s *Store) TrustAnchors(refs []string) ([]*x509.Certificate, error) {
	as, err := s.trustAnchors(refs)
	return anchorCerts(as), err
}

// Anchor is a trust anchor with where it came from, as a report names it:
// "certstore FILE @certstore://ID" (with " (-cadefault)" when chosen by
// the tag) or "file PATH".
type Anchor struct {
	Cert   *x509.Certificate
	Source string
}

func anchorCerts(as []Anchor) []*x509.Certificate {
	if as == nil {
		return nil
	}
	out := make([]*x509.Certificate, len(as))
	for i, a := range as {
		out[i] = a.Cert
	}
	return out
}

func (s *Store) trustAnchors(refs []string) ([]Anchor, error) {
	var out []Anchor
	if len(refs) == 0 {
		for _, e := range s.elements {
			if e.HasTag(TagCADefault) {
				out = append(out, Anchor{e.Cert, "certstore " + s.path + " " + RefPrefix + e.ID + " (" + TagCADefault + ")"})
			}
		}
		if len(out) == 0 {
			return nil, errorf(ReasonNotFound, s.path, nil, "no element tagged %s (name CAs with --ca, or run tlseal pki init)", TagCADefault)
		}
		return out, nil
	}
	for _, r := range refs {
		e, err := s.lookupRef(r)
		if err != nil {
			return nil, err
		}
		out = append(out, Anchor{e.Cert, "certstore " + s.path + " " + RefPrefix + e.ID})
	}
	return out, nil
}

// intermediates walks up from leaf through the store's certificates and
// returns the non-self-signed issuers, leaf-most first.
func (s *Store) intermediates(leaf *x509.Certificate) []*x509.Certificate {
	var chain []*x509.Certificate
	cur := leaf
	for range 8 {
		if isSelfSigned(cur) {
			break
		}
		var next *x509.Certificate
		for _, e := range s.elements {
			c := e.Cert
			if c.Equal(cur) || !bytes.Equal(c.RawSubject, cur.RawIssuer) || !c.IsCA {
				continue
			}
			if cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil || isSelfSigned(next) {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

// CheckSigningKey returns an error unless key is an ECDSA key on P-256,
// P-384 or P-521, the keys a tlseal seal can be made with.
func CheckSigningKey(key crypto.Signer) error {
	k, ok := key.Public().(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%T: only ECDSA keys on P-256, P-384 or P-521 can sign seals", key.Public())
	}
	switch k.Curve {
	case elliptic.P256(), elliptic.P384(), elliptic.P521():
		return nil
	}
	return fmt.Errorf("ECDSA curve %s: only P-256, P-384 or P-521 can sign seals", k.Curve.Params().Name)
}

// Resolver resolves --cert/--key/--ca style references, each of which is
// "@certstore://ID", a PEM file path, or empty (the store's defaults). The
// store is opened at most once, and only when a reference needs it.
type Resolver struct {
	// StoreFile is the certificate store; "" if there is none.
	StoreFile string
	// Password returns the store password. It is called at most once, when
	// the store is first needed.
	Password func() ([]byte, error)

	store *Store
}

// Store opens the resolver's store (once) and returns it.
func (r *Resolver) Store() (*Store, error) {
	if r.store != nil {
		return r.store, nil
	}
	if r.StoreFile == "" {
		return nil, errorf(ReasonInvalidArgument, "", nil, "a certificate store is needed (--certstore FILE or certStoreFileName in --config)")
	}
	if r.Password == nil {
		return nil, errorf(ReasonInvalidArgument, r.StoreFile, nil, "no password")
	}
	pw, err := r.Password()
	if err != nil {
		return nil, err
	}
	s, err := Open(r.StoreFile, pw)
	clear(pw)
	if err != nil {
		return nil, err
	}
	r.store = s
	return s, nil
}

// Signer resolves a signing identity. certRef and keyRef are each
// "@certstore://ID", a PEM file path or empty:
//
//   - both empty: the store's first element tagged "-enginedefault";
//   - certRef a store reference: that element; its own key unless keyRef
//     names another key (a store reference or a PEM key file);
//   - certRef a PEM file: the first certificate is the signer, the others
//     are its chain; keyRef must name the key (or the file holds it).
//
// The key must match the certificate and be ECDSA P-256, P-384 or P-521.
func (r *Resolver) Signer(certRef, keyRef string) (cert *x509.Certificate, chain []*x509.Certificate, key crypto.Signer, err error) {
	switch _, isRef := ParseRef(certRef); {
	case certRef == "" && tokenkey.IsURI(keyRef):
		// A key in a token, and its certificate stored beside it.
		k, err := tokenkey.Open(keyRef)
		if err != nil {
			return nil, nil, nil, err
		}
		if k.Cert == nil {
			return nil, nil, nil, inputErrorf(ReasonInvalidArgument, tokenkey.Redact(keyRef), nil, "the token holds no certificate with the key's label or id: give it with --cert")
		}
		cert, key = k.Cert, k.Signer
	case certRef == "" && keyRef != "":
		return nil, nil, nil, errorf(ReasonInvalidArgument, "", nil, "a key (%q) was given without a certificate", keyRef)
	case certRef == "" || isRef:
		s, err := r.Store()
		if err != nil {
			return nil, nil, nil, err
		}
		if keyRef == "" {
			return s.Signer(certRef)
		}
		e, err := s.lookupRef(certRef)
		if err != nil {
			return nil, nil, nil, err
		}
		cert, chain = e.Cert, s.intermediates(e.Cert)
	default:
		data, err := os.ReadFile(certRef)
		if err != nil {
			return nil, nil, nil, inputErrorf(ReasonIO, certRef, err, "reading certificate")
		}
		certs, err := ParseCertificates(data)
		if err != nil {
			return nil, nil, nil, inputErrorf(ReasonInvalidElement, certRef, err, "certificate")
		}
		cert, chain = certs[0], certs[1:]
		if keyRef == "" {
			k, found, err := ParsePrivateKey(data)
			if !found {
				return nil, nil, nil, inputErrorf(ReasonInvalidArgument, certRef, nil, "the certificate is a file: name its key too (--key FILE or %sID)", RefPrefix)
			}
			if err != nil {
				return nil, nil, nil, inputErrorf(ReasonInvalidElement, certRef, err, "private key")
			}
			key = k
		}
	}
	if key == nil {
		if key, err = r.key(keyRef); err != nil {
			return nil, nil, nil, err
		}
	}
	if !keyMatches(key, cert) {
		return nil, nil, nil, inputErrorf(ReasonKeyMismatch, tokenkey.Redact(keyRef), nil, "the private key does not belong to certificate %q", cert.Subject.String())
	}
	if err := CheckSigningKey(key); err != nil {
		return nil, nil, nil, &Error{Reason: ReasonUnsupportedKey, Path: keyRef, Err: err}
	}
	return cert, chain, key, nil
}

// key resolves a non-empty key reference.
func (r *Resolver) key(ref string) (crypto.Signer, error) {
	if tokenkey.IsRef(ref) {
		k, err := tokenkey.Resolve(ref)
		if err != nil {
			return nil, err
		}
		return k.Signer, nil
	}
	if _, ok := ParseRef(ref); ok {
		s, err := r.Store()
		if err != nil {
			return nil, err
		}
		e, err := s.lookupRef(ref)
		if err != nil {
			return nil, err
		}
		return s.elementKey(e)
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		return nil, inputErrorf(ReasonIO, ref, err, "reading private key")
	}
	k, _, err := ParsePrivateKey(data)
	clear(data)
	if err != nil {
		return nil, inputErrorf(ReasonInvalidElement, ref, err, "private key")
	}
	return k, nil
}

// TrustAnchors resolves CA references: each is "@certstore://ID" or a PEM
// file (every certificate in it is an anchor). No refs, or only empty ones,
// means the store's elements tagged "-cadefault".
func (r *Resolver) TrustAnchors(refs []string) ([]*x509.Certificate, error) {
	as, err := r.TrustAnchorSources(refs)
	return anchorCerts(as), err
}

// TSAAnchorSources resolves TSA anchor references as TrustAnchorSources
// does CA references. No refs means the elements tagged "-tsadefault" of
// the store, if the resolver has opened it already (for the trust anchors):
// a store that is not otherwise used is not opened (and needs no password)
// just to look for them. None is no TSA anchor at all, not an error:
// timestamps are then untrusted, and reported so.
func (r *Resolver) TSAAnchorSources(refs []string) ([]Anchor, error) {
	if slices.ContainsFunc(refs, func(s string) bool { return s != "" }) {
		return r.anchorSources(refs)
	}
	s := r.store
	if s == nil {
		return nil, nil
	}
	var out []Anchor
	for _, e := range s.elements {
		if e.HasTag(TagTSADefault) {
			out = append(out, Anchor{e.Cert, "certstore " + s.path + " " + RefPrefix + e.ID + " (" + TagTSADefault + ")"})
		}
	}
	return out, nil
}

// CRL is a CRL kept in a store, with where it came from.
type CRL struct {
	DER    []byte
	Source string // "certstore FILE @certstore://ID (-crl)"
}

// DefaultCRLs are the CRLs of the elements tagged "-crl" of the store, if
// the resolver has opened it already (for the trust anchors), as
// TSAAnchorSources does for TSA anchors: the CRLs verifiers use when no
// --crl is named.
func (r *Resolver) DefaultCRLs() []CRL {
	s := r.store
	if s == nil {
		return nil
	}
	var out []CRL
	for _, e := range s.elements {
		if e.HasTag(TagCRL) && e.CRL != nil {
			out = append(out, CRL{DER: e.CRL, Source: "certstore " + s.path + " " + RefPrefix + e.ID + " (" + TagCRL + ")"})
		}
	}
	return out
}

// TrustAnchorSources is TrustAnchors with where each anchor came from.
func (r *Resolver) TrustAnchorSources(refs []string) ([]Anchor, error) {
	var nonEmpty []string
	for _, ref := range refs {
		if ref != "" {
			nonEmpty = append(nonEmpty, ref)
		}
	}
	if len(nonEmpty) == 0 {
		s, err := r.Store()
		if err != nil {
			return nil, err
		}
		return s.trustAnchors(nil)
	}
	return r.anchorSources(nonEmpty)
}

// anchorSources resolves anchor references: "@certstore://ID" or PEM files.
func (r *Resolver) anchorSources(refs []string) ([]Anchor, error) {
	var out []Anchor
	for _, ref := range refs {
		if ref == "" {
			continue
		}
		if _, ok := ParseRef(ref); ok {
			s, err := r.Store()
			if err != nil {
				return nil, err
			}
			as, err := s.trustAnchors([]string{ref})
			if err != nil {
				return nil, err
			}
			out = append(out, as...)
			continue
		}
		data, err := os.ReadFile(ref)
		if err != nil {
			return nil, inputErrorf(ReasonIO, ref, err, "reading CA certificates")
		}
		certs, err := ParseCertificates(data)
		if err != nil {
			return nil, inputErrorf(ReasonInvalidElement, ref, err, "CA certificates")
		}
		for _, c := range certs {
			out = append(out, Anchor{c, "file " + ref})
		}
	}
	return out, nil
}
