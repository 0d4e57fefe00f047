package revocation

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"sync"
	"time"
)

// MaxCRLSize bounds the size of a CRL file (and of the data given to
// ParseCRLs): 64 MiB, far above any real CRL.
const MaxCRLSize = 64 << 20

// pemType is the PEM block type of a CRL (RFC 7468 section 5).
const pemType = "X509 CRL"

// Object identifiers of the CRL and CRL entry extensions of RFC 5280 this
// package knows.
var (
	oidAuthorityKeyID    = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidCRLNumber         = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidDeltaCRLIndicator = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistPoint  = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidFreshestCRL       = asn1.ObjectIdentifier{2, 5, 29, 46}
	oidAuthorityInfo     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	oidReasonCode        = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidHoldInstruction   = asn1.ObjectIdentifier{2, 5, 29, 23}
	oidInvalidityDate    = asn1.ObjectIdentifier{2, 5, 29, 24}
	oidCertificateIssuer = asn1.ObjectIdentifier{2, 5, 29, 29}
)

// Set holds parsed CRLs. A nil *Set is an empty set. Check may be called
// concurrently; Merge may not be called concurrently with anything else.
type Set struct {
	crls []*CRL
}

// CRL is one parsed certificate revocation list and what Load learnt of it.
type CRL struct {
	// Name is the file name given to Load or ParseCRLs.
	Name string
	// Index is the CRL's position in its file, from 1.
	Index int
	// List is the CRL as crypto/x509 parsed it. Read it; do not modify it.
	List *x509.RevocationList
	// Problem, when not nil, is why the CRL cannot decide any certificate's
	// status (ReasonUnsupported, ReasonMalformed, ReasonCriticalExtension).
	// Check rejects it (Result.Rejected) for the certificates of the issuer
	// it names, after its signature, which decides first.
	Problem *Error

	inFile  int                // how many CRLs its file holds
	entries map[string]entry   // by serial number, lowercase hex
	scope   *distributionPoint // the issuing distribution point, if any

	mu   sync.Mutex
	sigs map[string]*Error // signature verdicts by issuer certificate DER
}

// entry is a CRL entry as Check needs it.
type entry struct {
	revocationDate time.Time
	invalidityDate time.Time // zero when the entry has none
	reason         CRLReason
}

// revokedAt is R: the invalidity date when there is one, else the
// revocation date.
func (e entry) revokedAt() time.Time {
	if !e.invalidityDate.IsZero() {
		return e.invalidityDate
	}
	return e.revocationDate
}

// distributionPoint is the part of an issuing distribution point extension
// that limits which certificates a CRL covers.
type distributionPoint struct {
	uris             []string
	onlyUser, onlyCA bool
	onlyAttr         bool
}

// String names the CRL: its file name, with "#N" for the Nth CRL of a file
// that holds several.
func (c *CRL) String() string {
	if c.inFile > 1 {
		return fmt.Sprintf("%s#%d", c.Name, c.Index)
	}
	return c.Name
}

// Describe returns the CRL's name, number, issuer and validity for a
// finding: "crl.pem (number 3, CN=CA, thisUpdate ..., nextUpdate ...)".
func (c *CRL) Describe() string {
	num := "no number"
	if c.List.Number != nil {
		num = "number " + c.List.Number.String()
	}
	next := "no nextUpdate"
	if !c.List.NextUpdate.IsZero() {
		next = "nextUpdate " + stamp(c.List.NextUpdate)
	}
	return fmt.Sprintf("%s (%s, issuer %s, thisUpdate %s, %s)", c, num, c.List.Issuer, stamp(c.List.ThisUpdate), next)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Len returns the number of CRLs in s.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.crls)
}

// CRLs returns the CRLs of s in the order they were read.
func (s *Set) CRLs() []*CRL {
	if s == nil {
		return nil
	}
	return append([]*CRL(nil), s.crls...)
}

// Merge adds the CRLs of o to s.
func (s *Set) Merge(o *Set) {
	if o != nil {
		s.crls = append(s.crls, o.crls...)
	}
}

// Load reads the CRL files at paths (each DER, or PEM with one or more
// "X509 CRL" blocks) into one Set. It stops at the first file that cannot
// be read or is not CRLs, with an *Error naming it.
func Load(paths ...string) (*Set, error) {
	s := &Set{}
	for _, p := range paths {
		data, err := readBounded(p)
		if err != nil {
			return nil, err
		}
		t, err := ParseCRLs(data, p)
		if err != nil {
			return nil, err
		}
		s.Merge(t)
	}
	return s, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errorf(ReasonIO, path, err, "cannot open")
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		if fi.IsDir() {
			return nil, errorf(ReasonIO, path, nil, "is a directory")
		}
		if fi.Mode().IsRegular() && fi.Size() > MaxCRLSize {
			return nil, errorf(ReasonTooLarge, path, nil, "%d bytes, more than %d", fi.Size(), MaxCRLSize)
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxCRLSize+1))
	if err != nil {
		return nil, errorf(ReasonIO, path, err, "cannot read")
	}
	if len(data) > MaxCRLSize {
		return nil, errorf(ReasonTooLarge, path, nil, "more than %d bytes", MaxCRLSize)
	}
	return data, nil
}

// ParseCRLs parses data, named name in errors and results: one DER CRL, or
// PEM with one or more "X509 CRL" blocks (text around the blocks, as
// "openssl crl -text" writes, is ignored). Data that is neither, a PEM
// block of another type, a truncated block, or a CRL that does not parse
// is an *Error (ReasonNotCRL, ReasonMalformed, ReasonUnsupported for a
// version 1 CRL, ReasonTooLarge). A CRL that parses but cannot be used
// (a delta CRL, an unknown critical extension, ...) is kept, with its
// Problem set.
func ParseCRLs(data []byte, name string) (*Set, error) {
	if len(data) > MaxCRLSize {
		return nil, errorf(ReasonTooLarge, name, nil, "%d bytes, more than %d", len(data), MaxCRLSize)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errorf(ReasonNotCRL, name, nil, "empty")
	}
	if data[0] == 0x30 { // a DER SEQUENCE
		c, err := parseDER(data, name)
		if err != nil {
			return nil, err
		}
		c.Name, c.Index, c.inFile = name, 1, 1
		c.nameProblem()
		return &Set{crls: []*CRL{c}}, nil
	}
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		return nil, errorf(ReasonNotCRL, name, nil, "neither DER nor PEM")
	}
	s := &Set{}
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != pemType {
			return nil, errorf(ReasonNotCRL, name, nil, "PEM block %d is %q, not %q", n, block.Type, pemType)
		}
		c, err := parseDER(block.Bytes, name)
		if err != nil {
			err.Detail = fmt.Sprintf("PEM block %d: %s", n, err.Detail)
			return nil, err
		}
		c.Name, c.Index = name, n
		s.crls = append(s.crls, c)
	}
	if bytes.Contains(rest, []byte("-----BEGIN ")) {
		return nil, errorf(ReasonMalformed, name, nil, "PEM block %d is truncated or damaged", len(s.crls)+1)
	}
	if len(s.crls) == 0 {
		return nil, errorf(ReasonNotCRL, name, nil, "no PEM block")
	}
	for _, c := range s.crls {
		c.inFile = len(s.crls)
		c.nameProblem()
	}
	return s, nil
}

// certificateList is the outer structure of a CRL (RFC 5280 section 5.1),
// read before crypto/x509 parses it to refuse trailing data and to tell a
// version 1 CRL (which crypto/x509 does not read) from other DER.
type certificateList struct {
	TBS       asn1.RawValue
	Algorithm asn1.RawValue
	Signature asn1.BitString
}

// nameProblem names the CRL in its Problem, once its name is known.
func (c *CRL) nameProblem() {
	if c.Problem != nil {
		c.Problem.File = c.String()
	}
}

func parseDER(der []byte, name string) (*CRL, *Error) {
	var outer certificateList
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil {
		return nil, errorf(ReasonMalformed, name, err, "not a DER CRL")
	}
	if len(rest) != 0 {
		return nil, errorf(ReasonMalformed, name, nil, "%d bytes of trailing data", len(rest))
	}
	if outer.TBS.Tag != asn1.TagSequence || !outer.TBS.IsCompound || len(outer.TBS.Bytes) == 0 {
		return nil, errorf(ReasonNotCRL, name, nil, "DER but not a CRL")
	}
	switch outer.TBS.Bytes[0] {
	case 0x02: // INTEGER: the version, 1 for v2
	case 0x30: // SEQUENCE: the signature algorithm; no version means v1
		return nil, errorf(ReasonUnsupported, name, nil, "a version 1 CRL (RFC 5280 CRLs are version 2)")
	default: // e.g. [0] EXPLICIT: the version of a certificate
		return nil, errorf(ReasonNotCRL, name, nil, "DER but not a CRL (a certificate?)")
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, errorf(ReasonMalformed, name, err, "does not parse")
	}
	c := &CRL{List: rl}
	c.Problem = c.analyse()
	return c, nil
}

// analyse checks what crypto/x509 leaves to its callers and fills in
// entries and scope; it returns the first reason the CRL is unusable.
func (c *CRL) analyse() *Error {
	rl := c.List
	if !rl.NextUpdate.IsZero() && rl.NextUpdate.Before(rl.ThisUpdate) {
		return errorf(ReasonMalformed, "", nil, "nextUpdate %s is before thisUpdate %s", stamp(rl.NextUpdate), stamp(rl.ThisUpdate))
	}
	seen := map[string]bool{}
	for _, ext := range rl.Extensions {
		id := ext.Id.String()
		if seen[id] {
			return errorf(ReasonMalformed, "", nil, "extension %s appears twice", id)
		}
		seen[id] = true
		switch {
		case ext.Id.Equal(oidAuthorityKeyID), ext.Id.Equal(oidCRLNumber):
			// parsed by crypto/x509
		case ext.Id.Equal(oidDeltaCRLIndicator):
			return errorf(ReasonUnsupported, "", nil, "a delta CRL (deltaCRLIndicator); only complete CRLs are supported")
		case ext.Id.Equal(oidIssuingDistPoint):
			dp, err := parseIDP(ext.Value)
			if err != nil {
				return err
			}
			c.scope = dp
		case ext.Id.Equal(oidFreshestCRL), ext.Id.Equal(oidAuthorityInfo):
			// where to fetch more: not needed offline
		case ext.Critical:
			return errorf(ReasonCriticalExtension, "", nil, "CRL extension %s", id)
		}
	}
	c.entries = make(map[string]entry, len(rl.RevokedCertificateEntries))
	for i := range rl.RevokedCertificateEntries {
		rce := &rl.RevokedCertificateEntries[i]
		e := entry{revocationDate: rce.RevocationTime, reason: CRLReason(rce.ReasonCode)}
		serial := serialHex(rce.SerialNumber)
		seen := map[string]bool{}
		for _, ext := range rce.Extensions {
			id := ext.Id.String()
			if seen[id] {
				return errorf(ReasonMalformed, "", nil, "entry for serial %s: extension %s appears twice", serial, id)
			}
			seen[id] = true
			switch {
			case ext.Id.Equal(oidReasonCode), ext.Id.Equal(oidHoldInstruction):
			case ext.Id.Equal(oidInvalidityDate):
				var t time.Time
				// encoding/asn1 reads a UTCTime into a time.Time too: look at the tag.
				rest, err := asn1.UnmarshalWithParams(ext.Value, &t, "generalized")
				if err != nil || len(rest) != 0 || ext.Value[0] != asn1.TagGeneralizedTime {
					return errorf(ReasonMalformed, "", err, "entry for serial %s: invalidityDate is not a GeneralizedTime", serial)
				}
				e.invalidityDate = t
			case ext.Id.Equal(oidCertificateIssuer):
				return errorf(ReasonUnsupported, "", nil, "an indirect CRL (certificateIssuer in the entry for serial %s)", serial)
			case ext.Critical:
				return errorf(ReasonCriticalExtension, "", nil, "entry for serial %s: extension %s", serial, id)
			}
		}
		if e.reason == RemoveFromCRL {
			return errorf(ReasonMalformed, "", nil, "entry for serial %s has reason removeFromCRL, which only delta CRLs may have", serial)
		}
		if old, ok := c.entries[serial]; ok && !e.revokedAt().Before(old.revokedAt()) {
			continue // the same serial twice: the earlier R counts
		}
		c.entries[serial] = e
	}
	return nil
}

// issuingDistributionPoint is the extension of RFC 5280 section 5.2.5.
type issuingDistributionPoint struct {
	DistributionPoint asn1.RawValue  `asn1:"optional,tag:0"`
	OnlyUser          bool           `asn1:"optional,tag:1"`
	OnlyCA            bool           `asn1:"optional,tag:2"`
	OnlySomeReasons   asn1.BitString `asn1:"optional,tag:3"`
	Indirect          bool           `asn1:"optional,tag:4"`
	OnlyAttr          bool           `asn1:"optional,tag:5"`
}

func parseIDP(value []byte) (*distributionPoint, *Error) {
	var idp issuingDistributionPoint
	rest, err := asn1.Unmarshal(value, &idp)
	if err != nil || len(rest) != 0 {
		return nil, errorf(ReasonMalformed, "", err, "issuingDistributionPoint does not parse")
	}
	if idp.Indirect {
		return nil, errorf(ReasonUnsupported, "", nil, "an indirect CRL (issuingDistributionPoint indirectCRL)")
	}
	if idp.OnlySomeReasons.BitLength > 0 {
		return nil, errorf(ReasonUnsupported, "", nil, "a partial CRL (issuingDistributionPoint onlySomeReasons)")
	}
	n := 0
	for _, b := range []bool{idp.OnlyUser, idp.OnlyCA, idp.OnlyAttr} {
		if b {
			n++
		}
	}
	if n > 1 {
		return nil, errorf(ReasonMalformed, "", nil, "issuingDistributionPoint sets more than one of onlyContainsUserCerts, onlyContainsCACerts, onlyContainsAttributeCerts")
	}
	dp := &distributionPoint{onlyUser: idp.OnlyUser, onlyCA: idp.OnlyCA, onlyAttr: idp.OnlyAttr}
	if len(idp.DistributionPoint.FullBytes) > 0 {
		// DistributionPointName ::= CHOICE { fullName [0] GeneralNames,
		// nameRelativeToCRLIssuer [1] RelativeDistinguishedName }, inside
		// the explicit [0] of the extension.
		var name asn1.RawValue
		rest, err := asn1.Unmarshal(idp.DistributionPoint.Bytes, &name)
		if err != nil || len(rest) != 0 || name.Class != asn1.ClassContextSpecific {
			return nil, errorf(ReasonMalformed, "", err, "issuingDistributionPoint distributionPoint does not parse")
		}
		if name.Tag == 0 {
			b := name.Bytes
			for len(b) > 0 {
				var gn asn1.RawValue
				b, err = asn1.Unmarshal(b, &gn)
				if err != nil {
					return nil, errorf(ReasonMalformed, "", err, "issuingDistributionPoint fullName does not parse")
				}
				if gn.Class == asn1.ClassContextSpecific && gn.Tag == 6 { // uniformResourceIdentifier
					dp.uris = append(dp.uris, string(gn.Bytes))
				}
			}
		}
	}
	return dp, nil
}

// serialHex formats a serial number as tlseal's reports do: lowercase hex.
func serialHex(n *big.Int) string {
	if n == nil {
		return "(none)"
	}
	return n.Text(16)
}
