package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/tlseal/tlseal/internal/p256verify"
)

// VerifyOptions say what a token must stamp and which TSAs are trusted.
type VerifyOptions struct {
	// Data are the stamped bytes: the token's message imprint must be
	// their SHA-256.
	Data []byte
	// Digest is the SHA-256 of the stamped bytes, used when Data is nil.
	Digest []byte
	// Roots are the TSA anchors. Without them every token is untrusted.
	Roots *x509.CertPool
	// Intermediates are CA certificates that may complete the TSA's chain,
	// besides those the token embeds.
	Intermediates *x509.CertPool
	// Chains, when set, remembers the TSA chains already built, for the
	// many tokens of one TSA in an audit: one cache per Roots and
	// Intermediates.
	Chains *ChainCache
}

// ChainCache remembers TSA certificate chains that Verify built. Building
// a chain checks the signature of every certificate in it, which costs
// more than the token's own signature; a token of a TSA seen before only
// has the validity of the chain's certificates checked at its genTime.
// Safe for concurrent use; the zero value is ready.
type ChainCache struct{ m sync.Map } // key [32]byte → [][]*x509.Certificate

func chainKey(cert *x509.Certificate, embedded []*x509.Certificate) [32]byte {
	h := sha256.New()
	h.Write(cert.Raw)
	for _, c := range embedded {
		if c != cert {
			h.Write(c.Raw)
		}
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// validAt reports whether every certificate of chain is valid at t.
func validAt(chain []*x509.Certificate, t time.Time) bool {
	for _, c := range chain {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			return false
		}
	}
	return true
}

// Verify checks the token as RFC 3161 §2.4.2 says a requester does. It
// returns nil if
//
//   - the token's CMS signature verifies with the certificate its signer
//     identifier names (a certificate the token embeds, found by
//     issuerAndSerialNumber or subjectKeyIdentifier): signed attributes
//     with a content-type of id-ct-TSTInfo and a message-digest of the
//     TSTInfo, signed with ECDSA or RSA (PKCS #1 v1.5 or PSS) over
//     SHA-256, SHA-384 or SHA-512;
//   - every ESS signing-certificate or signing-certificate-v2 attribute
//     names that certificate;
//   - the message imprint is SHA-256 and equals the expected digest;
//   - the TSTInfo has no critical extension;
//   - genTime lies within the TSA certificate's validity;
//   - the TSA certificate's extended key usage extension is critical and
//     holds id-kp-timeStamping alone (RFC 3161 §2.3);
//   - the TSA certificate chains to Roots at genTime, every certificate of
//     the chain valid then and allowing time stamping.
//
// The checks run in this order and the first that fails is reported;
// ReasonNoCertificate (after the imprint) and ReasonUntrusted (last) are
// returned only for tokens that pass every check that can be made without
// the certificate or the anchor. After Verify returns nil, t.GenTime is
// the time the TSA vouches for.
func (t *Token) Verify(opts VerifyOptions) error {
	want := opts.Digest
	if opts.Data != nil {
		sum := sha256.Sum256(opts.Data)
		want = sum[:]
	}
	if len(want) != sha256.Size {
		return fmt.Errorf("tsa: Verify needs the stamped data or its SHA-256 digest (%d bytes given)", len(want))
	}
	cert := t.Signer
	if cert != nil {
		if err := t.checkSignature(cert); err != nil {
			return err
		}
		if err := t.checkSigningCertificate(cert); err != nil {
			return err
		}
	}
	if t.HashAlgorithm != crypto.SHA256 {
		return errorf(ReasonHashAlgorithm, "the token's message imprint is a %s digest; tlseal stamps SHA-256 digests only", hashName(t.HashOID))
	}
	if !bytes.Equal(t.HashedMessage, want) {
		return errorf(ReasonImprintMismatch, "the token stamps the SHA-256 digest %x, but the data's SHA-256 is %x: the token was issued for other data", t.HashedMessage, want)
	}
	if cert == nil {
		return errorf(ReasonNoCertificate, "the token does not embed the TSA certificate its signature names (%s), so its signature cannot be checked", t.signerID())
	}
	for _, e := range t.Extensions {
		if e.Critical {
			return errorf(ReasonUnsupported, "the TSTInfo carries the critical extension %s, which this package does not understand", e.Id)
		}
	}
	if t.GenTime.Before(cert.NotBefore) || t.GenTime.After(cert.NotAfter) {
		return errorf(ReasonTimeOutsideValidity, "genTime %s lies outside the validity of the TSA certificate %s (%s to %s)",
			stamp(t.GenTime), certName(cert), stamp(cert.NotBefore), stamp(cert.NotAfter))
	}
	if err := checkEKU(cert); err != nil {
		return err
	}
	return t.checkChain(cert, opts)
}

func (t *Token) checkSignature(cert *x509.Certificate) error {
	si := &t.signer
	h := si.digest
	switch h {
	case 0:
		return errorf(ReasonUnsupported, "the TSA's signature uses the digest algorithm %s, which this package does not know", si.digestOID)
	case crypto.SHA1:
		return errorf(ReasonUnsupported, "the TSA's signature uses SHA-1, which is not accepted for signatures")
	}
	if si.contentType == nil {
		return errorf(ReasonBadSignature, "the signed attributes have no content-type attribute, so the signature does not bind the content to a TSTInfo")
	}
	if !si.contentType.Equal(oidTSTInfo) {
		return errorf(ReasonBadSignature, "the signed content-type attribute is %s, not id-ct-TSTInfo: the TSA signed something other than a TSTInfo", si.contentType)
	}
	if si.messageDigest == nil {
		return errorf(ReasonBadSignature, "the signed attributes have no message-digest attribute, so the signature does not cover the TSTInfo")
	}
	d := h.New()
	d.Write(t.TSTInfo)
	if sum := d.Sum(nil); !bytes.Equal(sum, si.messageDigest) {
		return errorf(ReasonBadSignature, "the TSTInfo's %s digest is %x, but the signed message-digest attribute is %x: the TSTInfo was changed after the TSA signed it",
			hashName(si.digestOID), sum, si.messageDigest)
	}
	// RFC 5652 §5.4: the signature is over the DER of the signed
	// attributes with an explicit SET OF tag instead of the [0] IMPLICIT.
	signed := append([]byte{0x31}, si.signedAttrs[1:]...)
	d = h.New()
	d.Write(signed)
	digest := d.Sum(nil)

	ec, pss, err := signatureScheme(si.sigAlg, h)
	if err != nil {
		return err
	}
	var ok bool
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if !ec {
			return errorf(ReasonBadSignature, "the signature algorithm is RSA, but the TSA certificate %s holds an ECDSA key", certName(cert))
		}
		ok = p256verify.VerifyASN1(pub, digest, si.signature)
	case *rsa.PublicKey:
		if ec {
			return errorf(ReasonBadSignature, "the signature algorithm is ECDSA, but the TSA certificate %s holds an RSA key", certName(cert))
		}
		if pss != nil {
			err = rsa.VerifyPSS(pub, h, digest, si.signature, pss)
		} else {
			err = rsa.VerifyPKCS1v15(pub, h, digest, si.signature)
		}
		ok = err == nil
	default:
		return errorf(ReasonUnsupported, "the TSA certificate %s holds a %T key; this package checks ECDSA and RSA signatures", certName(cert), cert.PublicKey)
	}
	if !ok {
		return &Error{Reason: ReasonBadSignature, Err: err,
			Detail: fmt.Sprintf("the TSA's signature over the signed attributes does not verify with the key of the TSA certificate %s: the token was altered or not signed by that TSA", certName(cert))}
	}
	return nil
}

// signatureScheme reads the SignerInfo's signatureAlgorithm: ECDSA or RSA,
// with PSS options for RSASSA-PSS. A hash the algorithm names must be the
// digest algorithm h.
func signatureScheme(alg algorithm, h crypto.Hash) (ec bool, pss *rsa.PSSOptions, err error) {
	if alg.oid.Equal(oidRSAPSS) {
		pss, err := pssOptions(alg.params, h)
		return false, pss, err
	}
	for _, a := range sigAlgs {
		if !a.oid.Equal(alg.oid) {
			continue
		}
		// id-ecPublicKey may carry the curve; the others carry no parameters (RSA: NULL).
		if !alg.oid.Equal(oidECPublicKey) && !alg.paramsAbsentOrNull() {
			return false, nil, malformed("the signature algorithm %s has unexpected parameters", alg.oid)
		}
		if a.hash != 0 && a.hash != h {
			return false, nil, errorf(ReasonUnsupported, "the signature algorithm %s names another hash than the SignerInfo's digest algorithm", alg.oid)
		}
		return a.ecdsa, nil, nil
	}
	return false, nil, errorf(ReasonUnsupported, "the TSA's signature algorithm %s is not ECDSA or RSA", alg.oid)
}

var sigAlgs = []struct {
	oid   asn1.ObjectIdentifier
	ecdsa bool
	hash  crypto.Hash // 0: the digest algorithm's
}{
	{oidECPublicKey, true, 0},
	{oidECDSAWithSHA1, true, crypto.SHA1},
	{oidECDSAWithSHA256, true, crypto.SHA256},
	{oidECDSAWithSHA384, true, crypto.SHA384},
	{oidECDSAWithSHA512, true, crypto.SHA512},
	{oidRSAEncryption, false, 0},
	{oidSHA1WithRSA, false, crypto.SHA1},
	{oidSHA256WithRSA, false, crypto.SHA256},
	{oidSHA384WithRSA, false, crypto.SHA384},
	{oidSHA512WithRSA, false, crypto.SHA512},
}

// pssOptions reads RSASSA-PSS-params (RFC 4055 §3.1).
func pssOptions(params []byte, h crypto.Hash) (*rsa.PSSOptions, error) {
	s := cryptobyte.String(params)
	var p cryptobyte.String
	if !s.ReadASN1(&p, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, malformed("the RSASSA-PSS parameters are malformed")
	}
	hash, mgfHash := crypto.SHA1, crypto.SHA1 // the defaults
	salt, trailer := int64(20), int64(1)
	var oid asn1.ObjectIdentifier
	var x cryptobyte.String
	ok := true
	if p.PeekASN1Tag(tagC0) {
		ok = p.ReadASN1(&x, tagC0) && readHashAlgorithm(&x, &hash, &oid) && x.Empty()
	}
	if ok && p.PeekASN1Tag(tagC1) {
		var mgf algorithm
		ok = p.ReadASN1(&x, tagC1) && readAlgorithm(&x, &mgf) && x.Empty() && mgf.oid.Equal(oidMGF1)
		mp := cryptobyte.String(mgf.params)
		ok = ok && readHashAlgorithm(&mp, &mgfHash, &oid) && mp.Empty()
	}
	if ok && p.PeekASN1Tag(cbasn1.Tag(2).Constructed().ContextSpecific()) {
		ok = p.ReadASN1(&x, cbasn1.Tag(2).Constructed().ContextSpecific()) && x.ReadASN1Int64WithTag(&salt, cbasn1.INTEGER) && x.Empty()
	}
	if ok && p.PeekASN1Tag(cbasn1.Tag(3).Constructed().ContextSpecific()) {
		ok = p.ReadASN1(&x, cbasn1.Tag(3).Constructed().ContextSpecific()) && x.ReadASN1Int64WithTag(&trailer, cbasn1.INTEGER) && x.Empty()
	}
	if !ok || !p.Empty() || salt < 0 || salt > 1<<16 {
		return nil, malformed("the RSASSA-PSS parameters are malformed")
	}
	if hash != h || mgfHash != h || trailer != 1 {
		return nil, errorf(ReasonUnsupported, "the RSASSA-PSS parameters (hash, MGF1 hash, trailer) do not match the SignerInfo's digest algorithm")
	}
	// A salt length of 0 is rsa.PSSSaltLengthAuto: any salt length is
	// accepted then, which does not weaken the signature.
	return &rsa.PSSOptions{SaltLength: int(salt), Hash: h}, nil
}

func (t *Token) checkSigningCertificate(cert *x509.Certificate) error {
	for _, id := range t.signer.essCertIDs {
		attr := "signing-certificate"
		if id.v2 {
			attr = "signing-certificate-v2"
		}
		if id.hash == 0 {
			return errorf(ReasonUnsupported, "the %s attribute identifies the certificate by the hash algorithm %s, which this package does not know", attr, id.hashOID)
		}
		d := id.hash.New()
		d.Write(cert.Raw)
		if sum := d.Sum(nil); !bytes.Equal(sum, id.certHash) {
			return errorf(ReasonSigningCertificate, "the signed %s attribute names the certificate whose %s is %x, but the signature was checked with the TSA certificate %s, whose %s is %x",
				attr, hashName(id.hashOID), id.certHash, certName(cert), hashName(id.hashOID), sum)
		}
		if id.issuer == nil {
			continue
		}
		issuer := false
		for _, n := range id.issuer {
			issuer = issuer || bytes.Equal(n, cert.RawIssuer)
		}
		if !issuer || id.serial.Cmp(cert.SerialNumber) != 0 {
			return errorf(ReasonSigningCertificate, "the signed %s attribute names another issuer and serial number (serial %#x) than the TSA certificate %s", attr, id.serial, certName(cert))
		}
	}
	return nil
}

var ekuNames = map[string]string{
	"1.3.6.1.5.5.7.3.1": "serverAuth",
	"1.3.6.1.5.5.7.3.2": "clientAuth",
	"1.3.6.1.5.5.7.3.3": "codeSigning",
	"1.3.6.1.5.5.7.3.4": "emailProtection",
	"1.3.6.1.5.5.7.3.8": "timeStamping",
	"1.3.6.1.5.5.7.3.9": "OCSPSigning",
	"2.5.29.37.0":       "anyExtendedKeyUsage",
}

// checkEKU checks RFC 3161 §2.3: the TSA certificate's extended key usage
// extension is critical and holds id-kp-timeStamping only.
func checkEKU(cert *x509.Certificate) error {
	for _, e := range cert.Extensions {
		if !e.Id.Equal(oidExtKeyUsage) {
			continue
		}
		if !e.Critical {
			return errorf(ReasonEKU, "the TSA certificate %s marks its extended key usage non-critical; RFC 3161 §2.3 requires a critical extension holding id-kp-timeStamping alone", certName(cert))
		}
		if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(cert.UnknownExtKeyUsage) != 0 {
			var names []string
			s := cryptobyte.String(e.Value)
			var seq cryptobyte.String
			if s.ReadASN1(&seq, cbasn1.SEQUENCE) {
				for !seq.Empty() {
					var oid asn1.ObjectIdentifier
					if !seq.ReadASN1ObjectIdentifier(&oid) {
						break
					}
					name := ekuNames[oid.String()]
					if name == "" {
						name = oid.String()
					}
					names = append(names, name)
				}
			}
			return errorf(ReasonEKU, "the TSA certificate %s has the extended key usages %s; RFC 3161 §2.3 requires id-kp-timeStamping alone", certName(cert), strings.Join(names, ", "))
		}
		return nil
	}
	return errorf(ReasonEKU, "the TSA certificate %s has no extended key usage extension; RFC 3161 §2.3 requires a critical one holding id-kp-timeStamping alone", certName(cert))
}

func (t *Token) checkChain(cert *x509.Certificate, opts VerifyOptions) error {
	if opts.Roots == nil {
		return errorf(ReasonUntrusted, "no TSA anchors are configured, so the TSA certificate %s cannot be trusted", certName(cert))
	}
	var key [32]byte
	if opts.Chains != nil {
		key = chainKey(cert, t.Certificates)
		if v, ok := opts.Chains.m.Load(key); ok {
			for _, chain := range v.([][]*x509.Certificate) {
				if validAt(chain, t.GenTime) {
					return nil
				}
			}
			// Not valid at this genTime: the full check says why.
		}
	}
	inter := x509.NewCertPool()
	if opts.Intermediates != nil {
		inter = opts.Intermediates.Clone()
	}
	for _, c := range t.Certificates {
		if c != cert {
			inter.AddCert(c)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         opts.Roots,
		Intermediates: inter,
		CurrentTime:   t.GenTime,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if err == nil {
		if opts.Chains != nil {
			opts.Chains.m.Store(key, chains)
		}
		return nil
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.Expired:
			return wrap(ReasonTimeOutsideValidity, err, "at genTime %s a certificate of the TSA's chain (%s) was not valid", stamp(t.GenTime), certName(inv.Cert))
		case x509.IncompatibleUsage:
			return wrap(ReasonEKU, err, "a certificate of the TSA's chain does not allow time stamping")
		}
	}
	return wrap(ReasonUntrusted, err, "the TSA certificate %s does not chain to a configured TSA anchor at genTime %s", certName(cert), stamp(t.GenTime))
}

func certName(c *x509.Certificate) string {
	if c == nil {
		return "(unknown)"
	}
	return fmt.Sprintf("%q (serial %#x)", c.Subject.String(), c.SerialNumber)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
