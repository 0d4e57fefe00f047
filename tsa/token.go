package tsa

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Token is a parsed TimeStampToken. Parse fills it; nothing in it is
// trusted before Verify returns nil.
type Token struct {
	Raw     []byte // the DER TimeStampToken (a CMS ContentInfo)
	TSTInfo []byte // the DER TSTInfo the TSA signed (the encapsulated content)

	Policy        asn1.ObjectIdentifier
	HashAlgorithm crypto.Hash           // of the message imprint; 0 if HashOID is unknown
	HashOID       asn1.ObjectIdentifier // of the message imprint
	HashedMessage []byte                // the message imprint
	SerialNumber  *big.Int
	GenTime       time.Time     // in UTC
	Accuracy      time.Duration // 0 if the TSA states none
	Ordering      bool
	Nonce         *big.Int // nil if absent
	TSAName       string   // the tsa field, "" if absent
	Extensions    []pkix.Extension

	// Certificates are the certificates the token embeds, in its order.
	Certificates []*x509.Certificate
	// Signer is the embedded certificate the SignerInfo's sid names, the
	// TSA certificate; nil if the token does not embed it.
	Signer *x509.Certificate

	signer signerInfo
	certs  *CertCache // during parsing
}

type signerInfo struct {
	issuer []byte   // sid issuerAndSerialNumber: DER Name
	serial *big.Int // sid issuerAndSerialNumber
	skid   []byte   // sid subjectKeyIdentifier

	digest      crypto.Hash // digestAlgorithm; 0 if unknown
	digestOID   asn1.ObjectIdentifier
	signedAttrs []byte // the DER [0] IMPLICIT signedAttrs element, as received
	sigAlg      algorithm
	signature   []byte

	contentType   asn1.ObjectIdentifier
	messageDigest []byte
	essCertIDs    []essCertID // the first ESSCertID of each signing-certificate attribute
}

// essCertID is the ESSCertID (RFC 2634) or ESSCertIDv2 (RFC 5035) that
// names the signing certificate.
type essCertID struct {
	v2       bool
	hash     crypto.Hash // 0 if hashOID is unknown
	hashOID  asn1.ObjectIdentifier
	certHash []byte
	issuer   [][]byte // directoryName entries of issuerSerial.issuer; nil if no issuerSerial
	serial   *big.Int
}

// Context-specific tags: constructed ([0] EXPLICIT, or IMPLICIT over a
// SET or SEQUENCE) and primitive ([0] IMPLICIT over an INTEGER or OCTET
// STRING).
var (
	tagC0 = cbasn1.Tag(0).Constructed().ContextSpecific()
	tagC1 = cbasn1.Tag(1).Constructed().ContextSpecific()
	tagP0 = cbasn1.Tag(0).ContextSpecific()
	tagP1 = cbasn1.Tag(1).ContextSpecific()
)

// Parse parses a DER TimeStampToken (RFC 3161 §2.4.2): a CMS ContentInfo
// of type id-signedData encapsulating a TSTInfo, with exactly one
// SignerInfo. Anything else, including bytes after the token, is an error
// of ReasonMalformed. Parse checks no signature; see Verify. The token's
// byte slices share memory with der.
func Parse(der []byte) (*Token, error) { return ParseCached(der, nil) }

// CertCache keeps the certificates tokens embed, parsed once, for the
// many tokens of one TSA in an audit (parsing a certificate costs about as
// much as checking a token's signature). It holds at most 256; a token's
// certificates are shared with the other tokens that embed the same bytes:
// read them, do not modify them. Safe for concurrent use; the zero value
// is ready.
type CertCache struct {
	mu sync.Mutex
	m  map[string]*x509.Certificate
}

const certCacheMax = 256

func (c *CertCache) parse(der []byte) (*x509.Certificate, error) {
	if c == nil {
		return x509.ParseCertificate(der)
	}
	c.mu.Lock()
	cert := c.m[string(der)]
	c.mu.Unlock()
	if cert != nil {
		return cert, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*x509.Certificate{}
	}
	if len(c.m) < certCacheMax {
		c.m[string(der)] = cert
	}
	c.mu.Unlock()
	return cert, nil
}

// ParseCached is Parse with the embedded certificates taken from cache
// (nil: none) when it holds them.
func ParseCached(der []byte, cache *CertCache) (*Token, error) {
	s := cryptobyte.String(der)
	var ci, explicit, sd cryptobyte.String
	var ctype asn1.ObjectIdentifier
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) {
		return nil, malformed("the token is not a DER SEQUENCE (a CMS ContentInfo)")
	}
	if !s.Empty() {
		return nil, malformed("%d bytes follow the token", len(s))
	}
	if !ci.ReadASN1ObjectIdentifier(&ctype) {
		return nil, malformed("the ContentInfo has no content type")
	}
	if !ctype.Equal(oidSignedData) {
		return nil, malformed("the ContentInfo's content type is %s, not id-signedData", ctype)
	}
	if !ci.ReadASN1(&explicit, tagC0) || !ci.Empty() || !explicit.ReadASN1(&sd, cbasn1.SEQUENCE) || !explicit.Empty() {
		return nil, malformed("the ContentInfo does not hold exactly one SignedData")
	}
	t := &Token{Raw: der, certs: cache}
	err := t.parseSignedData(sd)
	t.certs = nil
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Token) parseSignedData(sd cryptobyte.String) error {
	var version int
	if !sd.ReadASN1Integer(&version) {
		return malformed("the SignedData has no version")
	}
	// RFC 5652 §5.1: version 3 whenever eContentType is not id-data.
	if version != 3 {
		return malformed("the SignedData has version %d; a TSTInfo's SignedData has version 3", version)
	}
	var algs cryptobyte.String
	if !sd.ReadASN1(&algs, cbasn1.SET) {
		return malformed("the SignedData has no digestAlgorithms set")
	}
	var digestOIDs []asn1.ObjectIdentifier
	for !algs.Empty() {
		var h crypto.Hash
		var oid asn1.ObjectIdentifier
		if !readHashAlgorithm(&algs, &h, &oid) {
			return malformed("the SignedData's digestAlgorithms set holds a malformed AlgorithmIdentifier")
		}
		digestOIDs = append(digestOIDs, oid)
	}

	var eci, econtent, tst cryptobyte.String
	var etype asn1.ObjectIdentifier
	if !sd.ReadASN1(&eci, cbasn1.SEQUENCE) || !eci.ReadASN1ObjectIdentifier(&etype) {
		return malformed("the SignedData has no encapsulated content")
	}
	if !etype.Equal(oidTSTInfo) {
		return malformed("the encapsulated content type is %s, not id-ct-TSTInfo: this is not a time-stamp token", etype)
	}
	if !eci.ReadASN1(&econtent, tagC0) || !eci.Empty() || !econtent.ReadASN1(&tst, cbasn1.OCTET_STRING) || !econtent.Empty() {
		return malformed("the encapsulated TSTInfo is absent or not one DER OCTET STRING")
	}
	t.TSTInfo = tst

	var certs cryptobyte.String
	if !sd.ReadOptionalASN1(&certs, nil, tagC0) {
		return malformed("the SignedData's certificates field is malformed")
	}
	for i := 1; !certs.Empty(); i++ {
		var c cryptobyte.String
		if !certs.ReadASN1Element(&c, cbasn1.SEQUENCE) {
			return malformed("embedded certificate %d is not an X.509 certificate", i)
		}
		cert, err := t.certs.parse(c)
		if err != nil {
			return wrap(ReasonMalformed, err, "embedded certificate %d cannot be parsed", i)
		}
		t.Certificates = append(t.Certificates, cert)
	}
	if !sd.SkipOptionalASN1(tagC1) { // crls: not used
		return malformed("the SignedData's crls field is malformed")
	}
	var sis, si cryptobyte.String
	if !sd.ReadASN1(&sis, cbasn1.SET) || !sd.Empty() {
		return malformed("the SignedData's signerInfos set is malformed or followed by other data")
	}
	if !sis.ReadASN1(&si, cbasn1.SEQUENCE) {
		return malformed("the token has no SignerInfo")
	}
	if !sis.Empty() {
		// RFC 3161 §2.4.2: no signature other than the TSA's.
		return malformed("the token has more than one SignerInfo; RFC 3161 allows only the TSA's")
	}
	if err := t.signer.parse(si); err != nil {
		return err
	}
	listed := false
	for _, oid := range digestOIDs {
		listed = listed || oid.Equal(t.signer.digestOID)
	}
	if !listed {
		return malformed("the signer's digest algorithm %s is not in the SignedData's digestAlgorithms", hashName(t.signer.digestOID))
	}
	if err := t.parseTSTInfo(tst); err != nil {
		return err
	}
	return t.findSigner()
}

func (si *signerInfo) parse(s cryptobyte.String) error {
	var version int
	if !s.ReadASN1Integer(&version) {
		return malformed("the SignerInfo has no version")
	}
	switch {
	case s.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, issuer cryptobyte.String
		si.serial = new(big.Int)
		if !s.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(si.serial) || !ias.Empty() {
			return malformed("the SignerInfo's issuerAndSerialNumber is malformed")
		}
		si.issuer = issuer
		if version != 1 {
			return malformed("the SignerInfo has version %d; with an issuerAndSerialNumber it has version 1", version)
		}
	case s.PeekASN1Tag(tagP0):
		var skid cryptobyte.String
		if !s.ReadASN1(&skid, tagP0) {
			return malformed("the SignerInfo's subjectKeyIdentifier is malformed")
		}
		si.skid = skid
		if version != 3 {
			return malformed("the SignerInfo has version %d; with a subjectKeyIdentifier it has version 3", version)
		}
	default:
		return malformed("the SignerInfo has no signer identifier")
	}
	if !readHashAlgorithm(&s, &si.digest, &si.digestOID) {
		return malformed("the SignerInfo's digest algorithm is malformed")
	}
	var attrs cryptobyte.String
	if !s.PeekASN1Tag(tagC0) || !s.ReadASN1Element(&attrs, tagC0) {
		// RFC 5652 §5.3: signed attributes are required when the content is not id-data.
		return malformed("the SignerInfo has no signed attributes")
	}
	si.signedAttrs = attrs
	var sig cryptobyte.String
	if !readAlgorithm(&s, &si.sigAlg) || !s.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return malformed("the SignerInfo's signature algorithm or signature is malformed")
	}
	si.signature = sig
	if !s.SkipOptionalASN1(tagC1) || !s.Empty() { // unsigned attributes: not used
		return malformed("the SignerInfo's unsigned attributes are malformed or followed by other data")
	}
	return si.parseSignedAttrs()
}

func (si *signerInfo) parseSignedAttrs() error {
	s := cryptobyte.String(si.signedAttrs)
	var attrs cryptobyte.String
	if !s.ReadASN1(&attrs, tagC0) {
		return malformed("the signed attributes are malformed")
	}
	var seen [4]bool // of the known attributes, in the order below
	for !attrs.Empty() {
		var attr, values cryptobyte.String
		var typ asn1.ObjectIdentifier
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&typ) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return malformed("a signed attribute is malformed")
		}
		known := -1
		for i, oid := range []asn1.ObjectIdentifier{oidContentType, oidMessageDigest, oidSigningCertificate, oidSigningCertificateV2} {
			if typ.Equal(oid) {
				known = i
			}
		}
		if known < 0 {
			continue
		}
		if seen[known] {
			return malformed("the signed attribute %s appears twice", typ)
		}
		seen[known] = true
		var v cryptobyte.String
		switch {
		case typ.Equal(oidContentType):
			if !values.ReadASN1ObjectIdentifier(&si.contentType) || !values.Empty() {
				return malformed("the content-type attribute does not hold exactly one OID")
			}
		case typ.Equal(oidMessageDigest):
			if !values.ReadASN1(&v, cbasn1.OCTET_STRING) || !values.Empty() {
				return malformed("the message-digest attribute does not hold exactly one OCTET STRING")
			}
			si.messageDigest = v
		default:
			v2 := typ.Equal(oidSigningCertificateV2)
			if !values.ReadASN1(&v, cbasn1.SEQUENCE) || !values.Empty() {
				return malformed("the signing-certificate attribute does not hold exactly one value")
			}
			id, ok := parseSigningCertificate(v, v2)
			if !ok {
				return malformed("the signing-certificate attribute is malformed")
			}
			si.essCertIDs = append(si.essCertIDs, id)
		}
	}
	return nil
}

// parseSigningCertificate reads the first ESSCertID(v2) of a
// SigningCertificate(V2) value (the contents of its SEQUENCE): the one that
// names the signing certificate.
func parseSigningCertificate(s cryptobyte.String, v2 bool) (essCertID, bool) {
	var ids, id, hash cryptobyte.String
	e := essCertID{v2: v2, hash: crypto.SHA1, hashOID: oidSHA1}
	if !s.ReadASN1(&ids, cbasn1.SEQUENCE) || !ids.ReadASN1(&id, cbasn1.SEQUENCE) {
		return e, false
	}
	for !ids.Empty() { // ESSCertIDs of other certificates: checked for form only
		if !ids.SkipASN1(cbasn1.SEQUENCE) {
			return e, false
		}
	}
	if !s.SkipOptionalASN1(cbasn1.SEQUENCE) || !s.Empty() { // policies
		return e, false
	}
	if v2 {
		e.hash, e.hashOID = crypto.SHA256, oidSHA256
		if id.PeekASN1Tag(cbasn1.SEQUENCE) && !readHashAlgorithm(&id, &e.hash, &e.hashOID) {
			return e, false
		}
	}
	if !id.ReadASN1(&hash, cbasn1.OCTET_STRING) {
		return e, false
	}
	e.certHash = hash
	if id.Empty() {
		return e, true
	}
	var is, names cryptobyte.String
	e.serial = new(big.Int)
	if !id.ReadASN1(&is, cbasn1.SEQUENCE) || !id.Empty() || !is.ReadASN1(&names, cbasn1.SEQUENCE) ||
		!is.ReadASN1Integer(e.serial) || !is.Empty() {
		return e, false
	}
	e.issuer = [][]byte{}
	for !names.Empty() {
		var gn cryptobyte.String
		var tag cbasn1.Tag
		if !names.ReadAnyASN1(&gn, &tag) {
			return e, false
		}
		if tag == cbasn1.Tag(4).Constructed().ContextSpecific() { // directoryName
			var name cryptobyte.String
			if !gn.ReadASN1Element(&name, cbasn1.SEQUENCE) || !gn.Empty() {
				return e, false
			}
			e.issuer = append(e.issuer, name)
		}
	}
	return e, true
}

func (t *Token) parseTSTInfo(der []byte) error {
	s := cryptobyte.String(der)
	var info, imprint, hashed cryptobyte.String
	if !s.ReadASN1(&info, cbasn1.SEQUENCE) || !s.Empty() {
		return malformed("the TSTInfo is not one DER SEQUENCE")
	}
	var version int
	if !info.ReadASN1Integer(&version) || version != 1 {
		return malformed("the TSTInfo's version is missing or not 1")
	}
	if !info.ReadASN1ObjectIdentifier(&t.Policy) {
		return malformed("the TSTInfo has no policy")
	}
	if !info.ReadASN1(&imprint, cbasn1.SEQUENCE) || !readHashAlgorithm(&imprint, &t.HashAlgorithm, &t.HashOID) ||
		!imprint.ReadASN1(&hashed, cbasn1.OCTET_STRING) || !imprint.Empty() {
		return malformed("the TSTInfo's messageImprint is malformed")
	}
	t.HashedMessage = hashed
	t.SerialNumber = new(big.Int)
	if !info.ReadASN1Integer(t.SerialNumber) {
		return malformed("the TSTInfo has no serialNumber")
	}
	var gt cryptobyte.String
	var ok bool
	if !info.ReadASN1(&gt, cbasn1.GeneralizedTime) {
		return malformed("the TSTInfo has no genTime")
	}
	if t.GenTime, ok = parseGeneralizedTime(gt); !ok {
		return malformed("the TSTInfo's genTime %q is not YYYYMMDDhhmmss[.s]Z", string(gt))
	}
	if info.PeekASN1Tag(cbasn1.SEQUENCE) {
		var acc cryptobyte.String
		var sec, ms, us int64
		if !info.ReadASN1(&acc, cbasn1.SEQUENCE) ||
			acc.PeekASN1Tag(cbasn1.INTEGER) && !acc.ReadASN1Int64WithTag(&sec, cbasn1.INTEGER) ||
			acc.PeekASN1Tag(tagP0) && (!acc.ReadASN1Int64WithTag(&ms, tagP0) || ms < 1 || ms > 999) ||
			acc.PeekASN1Tag(tagP1) && (!acc.ReadASN1Int64WithTag(&us, tagP1) || us < 1 || us > 999) ||
			!acc.Empty() || sec < 0 || sec > 1<<32 {
			return malformed("the TSTInfo's accuracy is malformed")
		}
		t.Accuracy = time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond + time.Duration(us)*time.Microsecond
	}
	if info.PeekASN1Tag(cbasn1.BOOLEAN) && !info.ReadASN1Boolean(&t.Ordering) {
		return malformed("the TSTInfo's ordering is malformed")
	}
	if info.PeekASN1Tag(cbasn1.INTEGER) {
		t.Nonce = new(big.Int)
		if !info.ReadASN1Integer(t.Nonce) {
			return malformed("the TSTInfo's nonce is malformed")
		}
	}
	if info.PeekASN1Tag(tagC0) {
		var tsa, gn cryptobyte.String
		var tag cbasn1.Tag
		if !info.ReadASN1(&tsa, tagC0) || !tsa.ReadAnyASN1(&gn, &tag) || !tsa.Empty() {
			return malformed("the TSTInfo's tsa name is malformed")
		}
		if t.TSAName, ok = generalName(tag, gn); !ok {
			return malformed("the TSTInfo's tsa name is malformed")
		}
	}
	if info.PeekASN1Tag(tagC1) {
		var exts cryptobyte.String
		if !info.ReadASN1(&exts, tagC1) || exts.Empty() {
			return malformed("the TSTInfo's extensions are malformed")
		}
		for !exts.Empty() {
			var ext, value cryptobyte.String
			var e pkix.Extension
			if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&e.Id) ||
				ext.PeekASN1Tag(cbasn1.BOOLEAN) && !ext.ReadASN1Boolean(&e.Critical) ||
				!ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
				return malformed("a TSTInfo extension is malformed")
			}
			e.Value = value
			t.Extensions = append(t.Extensions, e)
		}
	}
	if !info.Empty() {
		return malformed("the TSTInfo has unexpected fields after its last known one")
	}
	return nil
}

// generalName renders a GeneralName (RFC 5280 §4.2.1.6), given its tag
// and contents.
func generalName(tag cbasn1.Tag, b cryptobyte.String) (string, bool) {
	switch tag {
	case cbasn1.Tag(4).Constructed().ContextSpecific(): // directoryName
		var rdns pkix.RDNSequence
		if rest, err := asn1.Unmarshal(b, &rdns); err != nil || len(rest) != 0 {
			return "", false
		}
		var n pkix.Name
		n.FillFromRDNSequence(&rdns)
		return n.String(), true
	case cbasn1.Tag(1).ContextSpecific():
		return "email:" + string(b), true
	case cbasn1.Tag(2).ContextSpecific():
		return "DNS:" + string(b), true
	case cbasn1.Tag(6).ContextSpecific():
		return "URI:" + string(b), true
	case cbasn1.Tag(7).ContextSpecific():
		if len(b) != 4 && len(b) != 16 {
			return "", false
		}
		return "IP:" + net.IP(b).String(), true
	}
	return fmt.Sprintf("GeneralName[%d]:%s", tag&0x1f, hex.EncodeToString(b)), true
}

// findSigner sets Signer to the embedded certificate the sid names.
func (t *Token) findSigner() error {
	for _, c := range t.Certificates {
		var match bool
		if t.signer.skid != nil {
			match = bytes.Equal(c.SubjectKeyId, t.signer.skid)
		} else {
			match = bytes.Equal(c.RawIssuer, t.signer.issuer) && c.SerialNumber.Cmp(t.signer.serial) == 0
		}
		if !match {
			continue
		}
		if t.Signer != nil && !bytes.Equal(t.Signer.Raw, c.Raw) {
			return malformed("two different embedded certificates match the signer identifier")
		}
		t.Signer = c
	}
	return nil
}

// signerID describes the SignerInfo's sid for messages.
func (t *Token) signerID() string {
	if t.signer.skid != nil {
		return "subject key identifier " + hex.EncodeToString(t.signer.skid)
	}
	var rdns pkix.RDNSequence
	name := hex.EncodeToString(t.signer.issuer)
	if _, err := asn1.Unmarshal(t.signer.issuer, &rdns); err == nil {
		var n pkix.Name
		n.FillFromRDNSequence(&rdns)
		name = fmt.Sprintf("%q", n.String())
	}
	return fmt.Sprintf("issuer %s, serial %#x", name, t.signer.serial)
}
