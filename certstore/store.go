package certstore

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/tlseal/tlseal/tokenkey"
)

// Element is one certificate in a store, with its private key if it has one.
type Element struct {
	ID      string            // unique in the store; see ValidID
	Tags    []string          // e.g. "-enginedefault", "-cadefault"; see ValidTag
	Cert    *x509.Certificate // never nil in a store
	CertPEM []byte            // the certificate as PEM; filled in by the store
	Key     crypto.Signer     // nil if the element has no private key
	// KeyRef names a key the store does not hold: a PKCS#11 URI or an
	// external signer (exec:), resolved when the element signs. An element
	// has Key or KeyRef, not both.
	KeyRef string
	// CRL is a certificate revocation list (DER) the element's certificate
	// issued, kept for verifiers: the CRLs of the elements tagged "-crl"
	// are used when no --crl is given. nil: none.
	CRL []byte
}

// Standard tags.
const (
	// TagEngineDefault marks the element that signs when no certificate
	// is named (the first such element with the tag).
	TagEngineDefault = "-enginedefault"
	// TagCADefault marks the trust anchors used when no CA is named.
	TagCADefault = "-cadefault"
	// TagTSADefault marks the TSA anchors (time-stamping authorities'
	// CAs, seal format v2) used when no --tsa-ca is named.
	TagTSADefault = "-tsadefault"
	// TagCRL marks the elements whose CRL is used when no --crl is named.
	TagCRL = "-crl"
)

// HasTag reports whether e carries tag.
func (e Element) HasTag(tag string) bool { return slices.Contains(e.Tags, tag) }

// clone returns a copy of e that shares no slices with it.
func (e Element) clone() Element {
	e.Tags = slices.Clone(e.Tags)
	if e.Tags == nil {
		e.Tags = []string{}
	}
	e.CertPEM = slices.Clone(e.CertPEM)
	e.CRL = slices.Clone(e.CRL)
	return e
}

// Store is a decrypted certificate store in memory. Changes made with Add,
// Delete and SetTags are written by Update (or are lost).
type Store struct {
	path       string
	id         string
	version    int
	flags      int
	iterations int
	elements   []Element
	dirty      bool
}

// Path returns the file name the store was opened or created with.
func (s *Store) Path() string { return s.path }

// ID returns the store's identifier, a random UUID chosen when it was created.
func (s *Store) ID() string { return s.id }

// Iterations returns the store's PBKDF2 iteration count.
func (s *Store) Iterations() int { return s.iterations }

// Elements returns copies of all elements, in insertion order.
func (s *Store) Elements() []Element {
	out := make([]Element, len(s.elements))
	for i, e := range s.elements {
		out[i] = e.clone()
	}
	return out
}

// Len returns the number of elements.
func (s *Store) Len() int { return len(s.elements) }

func (s *Store) index(id string) int {
	return slices.IndexFunc(s.elements, func(e Element) bool { return e.ID == id })
}

// Get returns the element with the given ID, or a NotFound error.
func (s *Store) Get(id string) (Element, error) {
	i := s.index(id)
	if i < 0 {
		return Element{}, errorf(ReasonNotFound, s.path, nil, "no element with ID %q", id)
	}
	return s.elements[i].clone(), nil
}

// Add appends e to the store. The ID must be new (else an Exists error), the
// certificate present and the key, if any, must match it. e.CertPEM is
// ignored: the store derives it from e.Cert.
func (s *Store) Add(e Element) error {
	if s.index(e.ID) >= 0 {
		return errorf(ReasonExists, s.path, nil, "an element with ID %q is already in the store", e.ID)
	}
	e, err := checkElement(s.path, e)
	if err != nil {
		return err
	}
	if e.Key != nil {
		if _, err := x509.MarshalPKCS8PrivateKey(e.Key); err != nil {
			return errorf(ReasonInvalidElement, s.path, err, "element %q: the private key cannot be stored", e.ID)
		}
	}
	s.elements = append(s.elements, e)
	s.dirty = true
	return nil
}

// Delete removes the element with the given ID, or returns a NotFound error.
func (s *Store) Delete(id string) error {
	i := s.index(id)
	if i < 0 {
		return errorf(ReasonNotFound, s.path, nil, "no element with ID %q", id)
	}
	s.elements = slices.Delete(s.elements, i, i+1)
	s.dirty = true
	return nil
}

// SetTags replaces the tags of an element. Duplicates are dropped; an empty
// list clears the tags.
func (s *Store) SetTags(id string, tags []string) error {
	i := s.index(id)
	if i < 0 {
		return errorf(ReasonNotFound, s.path, nil, "no element with ID %q", id)
	}
	t, err := normalizeTags(s.path, tags)
	if err != nil {
		return err
	}
	s.elements[i].Tags = t
	s.dirty = true
	return nil
}

// ValidID reports whether id can name an element: 1 to 128 characters from
// A-Z a-z 0-9 . _ -, starting with a letter or digit.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// ValidTag reports whether tag is acceptable: 1 to 64 printable ASCII
// characters other than space and comma.
func ValidTag(tag string) bool {
	if len(tag) == 0 || len(tag) > 64 {
		return false
	}
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; c <= ' ' || c > '~' || c == ',' {
			return false
		}
	}
	return true
}

func normalizeTags(path string, tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if !ValidTag(t) {
			return nil, errorf(ReasonInvalidElement, path, nil, "invalid tag %q (1 to 64 printable ASCII characters, no space or comma)", t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// checkElement validates e and returns the normalized copy the store keeps.
func checkElement(path string, e Element) (Element, error) {
	if !ValidID(e.ID) {
		return Element{}, errorf(ReasonInvalidElement, path, nil, "invalid ID %q (1 to 128 characters A-Z a-z 0-9 . _ -, starting with a letter or digit)", e.ID)
	}
	if e.Cert == nil || len(e.Cert.Raw) == 0 {
		return Element{}, errorf(ReasonInvalidElement, path, nil, "element %q has no certificate", e.ID)
	}
	tags, err := normalizeTags(path, e.Tags)
	if err != nil {
		return Element{}, err
	}
	e.Tags = tags
	if e.KeyRef != "" {
		if e.Key != nil {
			return Element{}, errorf(ReasonInvalidElement, path, nil, "element %q has both a private key and a key reference", e.ID)
		}
		if !tokenkey.IsRef(e.KeyRef) {
			return Element{}, errorf(ReasonInvalidElement, path, nil, "element %q: the key reference is neither a %s URI nor %s", e.ID, tokenkey.Scheme, tokenkey.ExecScheme)
		}
	}
	if e.Key != nil {
		if !keyMatches(e.Key, e.Cert) {
			return Element{}, errorf(ReasonKeyMismatch, path, nil, "element %q: the private key does not belong to certificate %q", e.ID, e.Cert.Subject.String())
		}
	}
	if e.CRL != nil {
		if err := checkCRL(e.CRL, e.Cert); err != nil {
			return Element{}, errorf(ReasonInvalidElement, path, err, "element %q: the CRL", e.ID)
		}
	}
	e.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.Cert.Raw})
	return e, nil
}

// checkCRL checks that der is a CRL issued by cert: a CRL kept beside the
// wrong CA would only ever be refused by verifiers, so it is refused here.
func checkCRL(der []byte, cert *x509.Certificate) error {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return fmt.Errorf("does not parse: %w", err)
	}
	if err := crl.CheckSignatureFrom(cert); err != nil {
		return fmt.Errorf("is not signed by the element's certificate %q: %w", cert.Subject, err)
	}
	return nil
}

// SetCRL keeps crl (DER) with element id, whose certificate must have
// issued it, replacing the one it had, and tags the element "-crl" (nil
// removes the CRL and the tag).
func (s *Store) SetCRL(id string, crl []byte) error {
	i := s.index(id)
	if i < 0 {
		return errorf(ReasonNotFound, s.path, nil, "no element with ID %q", id)
	}
	e := s.elements[i].clone()
	e.CRL = crl
	e.Tags = slices.DeleteFunc(e.Tags, func(t string) bool { return t == TagCRL })
	if crl != nil {
		e.Tags = append(e.Tags, TagCRL)
	}
	e, err := checkElement(s.path, e)
	if err != nil {
		return err
	}
	s.elements[i] = e
	s.dirty = true
	return nil
}

// keyMatches reports whether key is the private key of cert's public key.
func keyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// The JSON document inside the encryption.
type fileContent struct {
	ID       string        `json:"id"`
	Elements []fileElement `json:"elements"`
}

type fileElement struct {
	ID          string   `json:"id"`
	Tags        []string `json:"tags"`
	Certificate []byte   `json:"certificate"`          // DER, base64 in JSON
	PrivateKey  []byte   `json:"privateKey,omitempty"` // PKCS#8 DER, base64 in JSON
	KeyRef      string   `json:"keyRef,omitempty"`     // a key the store does not hold
	CRL         []byte   `json:"crl,omitempty"`        // DER, base64 in JSON: a CRL the certificate issued
}

func (s *Store) marshal() ([]byte, error) {
	c := fileContent{ID: s.id, Elements: make([]fileElement, 0, len(s.elements))}
	for _, e := range s.elements {
		fe := fileElement{ID: e.ID, Tags: e.Tags, Certificate: e.Cert.Raw, KeyRef: e.KeyRef, CRL: e.CRL}
		if fe.Tags == nil {
			fe.Tags = []string{}
		}
		if e.Key != nil {
			der, err := x509.MarshalPKCS8PrivateKey(e.Key)
			if err != nil {
				return nil, errorf(ReasonInvalidElement, s.path, err, "element %q: private key cannot be stored", e.ID)
			}
			fe.PrivateKey = der
		}
		c.Elements = append(c.Elements, fe)
	}
	b, err := json.Marshal(c)
	for _, fe := range c.Elements {
		clear(fe.PrivateKey)
	}
	return b, err
}

// decodeContent parses and validates the decrypted JSON document: every
// certificate must parse, every key must parse and match its certificate,
// IDs must be valid and unique.
func decodeContent(path string, content []byte) (*Store, error) {
	var c fileContent
	dec := json.NewDecoder(bytes.NewReader(content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, errorf(ReasonInvalidElement, path, err, "content is not a valid store document")
	}
	if dec.More() {
		return nil, errorf(ReasonInvalidElement, path, nil, "content has trailing data")
	}
	if c.ID == "" {
		return nil, errorf(ReasonInvalidElement, path, nil, "store has no ID")
	}
	// Parsing a private key costs a scalar multiplication (to check it
	// against its certificate): spread the elements over the CPUs.
	elements := make([]Element, len(c.Elements))
	errs := make([]error, len(c.Elements))
	workers := min(runtime.GOMAXPROCS(0), (len(c.Elements)+63)/64)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(c.Elements); i += workers {
				elements[i], errs[i] = decodeElement(path, i, c.Elements[i])
			}
		})
	}
	wg.Wait()
	seen := make(map[string]bool, len(elements))
	for i, e := range elements {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if seen[e.ID] {
			return nil, errorf(ReasonInvalidElement, path, nil, "element %d: duplicate ID %q", i, e.ID)
		}
		seen[e.ID] = true
	}
	return &Store{path: path, id: c.ID, version: FormatVersion, elements: elements}, nil
}

func decodeElement(path string, i int, fe fileElement) (Element, error) {
	e := Element{ID: fe.ID, Tags: fe.Tags, KeyRef: fe.KeyRef, CRL: fe.CRL}
	cert, err := x509.ParseCertificate(fe.Certificate)
	if err != nil {
		return Element{}, errorf(ReasonInvalidElement, path, err, "element %d (%q): certificate does not parse", i, fe.ID)
	}
	e.Cert = cert
	if fe.PrivateKey != nil {
		k, err := parsePKCS8(fe.PrivateKey)
		clear(fe.PrivateKey)
		if err != nil {
			return Element{}, errorf(ReasonInvalidElement, path, err, "element %d (%q): private key does not parse", i, fe.ID)
		}
		e.Key = k
	}
	return checkElement(path, e)
}

// parsePKCS8 parses a PKCS#8 private key that can sign.
func parsePKCS8(der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	if _, ok := k.(*ecdh.PrivateKey); ok {
		return nil, fmt.Errorf("%T keys cannot sign", k)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%T keys cannot sign", k)
	}
	return signer, nil
}

// newStoreID returns a random (version 4) UUID.
func newStoreID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
