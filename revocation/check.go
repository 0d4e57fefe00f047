package revocation

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Status is the outcome of Check. The zero value is never used, so that a
// Result nobody filled in is not mistaken for NotRevoked.
type Status int

// Statuses, each with the finding it stands for (Status.Code).
const (
	_                       Status = iota
	NotRevoked                     // a current CRL of the issuer does not list the certificate: no finding
	Revoked                        // revoked at R, and no trusted time before R: CodeCertRevoked
	RevokedAfterTrustedTime        // revoked at R, after the trusted time: CodeCertRevokedAfterTrustedTime
	NoCRL                          // no CRL names the issuer, or none covers the certificate: CodeCRLMissing
	CRLInvalid                     // CRLs name the issuer, all rejected (Result.Rejected): CodeCRLInvalid
	CRLExpired                     // the issuer's usable CRLs are all past their nextUpdate: CodeCRLExpired
)

var statusText = map[Status]string{
	NotRevoked:              "not revoked",
	Revoked:                 "revoked",
	RevokedAfterTrustedTime: "revoked after the trusted time",
	NoCRL:                   "no CRL for the issuer",
	CRLInvalid:              "CRL invalid",
	CRLExpired:              "CRL expired",
}

// The finding codes of the statuses (and of Result.Rejected: each is a
// CodeCRLInvalid). The caller emits the findings and registers the codes
// (verify.Codes, docs/findings.md); they are defined here, once, as the
// other packages that find things define theirs.
const (
	CodeCertRevoked                 = "cert.revoked"                 // failure
	CodeCertRevokedAfterTrustedTime = "cert.revokedAfterTrustedTime" // info: the seal predates the revocation
	CodeCRLMissing                  = "crl.missing"                  // info: no CRL for the issuer
	CodeCRLInvalid                  = "crl.invalid"                  // a CRL of the issuer was rejected
	CodeCRLExpired                  = "crl.expired"                  // the issuer's CRLs are past their nextUpdate
)

var statusCode = map[Status]string{
	Revoked:                 CodeCertRevoked,
	RevokedAfterTrustedTime: CodeCertRevokedAfterTrustedTime,
	NoCRL:                   CodeCRLMissing,
	CRLInvalid:              CodeCRLInvalid,
	CRLExpired:              CodeCRLExpired,
}

// String returns a short human-readable description of s.
func (s Status) String() string {
	if t, ok := statusText[s]; ok {
		return t
	}
	return fmt.Sprintf("revocation.Status(%d)", int(s))
}

// Code returns the finding code s stands for, or "" for NotRevoked (and
// for an unknown Status).
func (s Status) Code() string { return statusCode[s] }

// CRLReason is a CRL entry's reason code (RFC 5280 section 5.3.1). An
// entry without one has Unspecified.
type CRLReason int

// Reason codes of RFC 5280; 7 is not used.
const (
	Unspecified          CRLReason = 0
	KeyCompromise        CRLReason = 1
	CACompromise         CRLReason = 2
	AffiliationChanged   CRLReason = 3
	Superseded           CRLReason = 4
	CessationOfOperation CRLReason = 5
	CertificateHold      CRLReason = 6
	RemoveFromCRL        CRLReason = 8
	PrivilegeWithdrawn   CRLReason = 9
	AACompromise         CRLReason = 10
)

var crlReasonText = map[CRLReason]string{
	Unspecified:          "unspecified",
	KeyCompromise:        "keyCompromise",
	CACompromise:         "cACompromise",
	AffiliationChanged:   "affiliationChanged",
	Superseded:           "superseded",
	CessationOfOperation: "cessationOfOperation",
	CertificateHold:      "certificateHold",
	RemoveFromCRL:        "removeFromCRL",
	PrivilegeWithdrawn:   "privilegeWithdrawn",
	AACompromise:         "aACompromise",
}

// String returns the RFC 5280 name of r, e.g. "keyCompromise".
func (r CRLReason) String() string {
	if s, ok := crlReasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Currency chooses the time a CRL's nextUpdate is judged against.
type Currency int

const (
	// CurrentAtVerification (the default) wants nextUpdate not before the
	// verification time (Options.Now): a CRL past its nextUpdate may miss
	// revocations made since, including ones dated back before the seal
	// by an invalidity date, so only a current CRL can say "not revoked".
	CurrentAtVerification Currency = iota
	// CurrentAtTrustedTime wants nextUpdate not before the trusted time
	// (the verification time when there is none): the CRL was current
	// when the seal was made. It misses revocations published later.
	CurrentAtTrustedTime
	// CurrencyNotChecked accepts any nextUpdate, or none: for the final
	// CRL of a CA that is no more.
	CurrencyNotChecked
)

// Options are the times and tolerances of a Check.
type Options struct {
	// TrustedTime is when the seal provably existed (a time-stamp token's
	// genTime, a witnessed checkpoint); the zero time means there is none.
	TrustedTime time.Time
	// Now is the verification time; the zero time means time.Now().
	Now time.Time
	// Currency chooses the time nextUpdate is judged against.
	Currency Currency
	// ClockSkew is how far a CRL's thisUpdate may be after Now before the
	// CRL is refused as not yet valid; zero (the default) allows nothing.
	ClockSkew time.Duration
}

// Rejection is a CRL naming the issuer that Check did not use, and why.
type Rejection struct {
	CRL *CRL
	Err *Error
}

// Result is the outcome of Check.
type Result struct {
	Status Status
	// RevokedAt is R, for Revoked and RevokedAfterTrustedTime: the entry's
	// invalidity date when it has one, else its revocation date.
	RevokedAt      time.Time
	RevocationDate time.Time // the entry's revocation date
	InvalidityDate time.Time // the entry's invalidity date; zero when it has none
	Reason         CRLReason // the entry's reason code
	// CRL is the CRL that decided: the one listing the certificate, the
	// newest current one (NotRevoked), the newest expired one
	// (CRLExpired), the first rejected one (CRLInvalid); nil for NoCRL.
	CRL *CRL
	// Rejected are the CRLs naming the issuer that were refused: a forged
	// or damaged signature, an issuer that may not sign CRLs, an authority
	// key identifier mismatch, a Problem, a future thisUpdate. Each is
	// worth a crl.invalid finding, whatever Status is.
	Rejected []Rejection
	// Skipped are authentic CRLs of the issuer whose issuing distribution
	// point does not cover the certificate (ReasonOutOfScope).
	Skipped []Rejection
	// Detail is one line for humans saying what was decided and by what.
	Detail string
}

// Check decides whether cert, issued by issuer (the next certificate of
// the verified chain), is revoked according to the CRLs of s, as the
// package documentation describes. The error is for misuse only (no
// certificate, or an issuer whose subject is not cert's issuer name);
// everything about the CRLs is in the Result. A nil Set gives NoCRL.
func (s *Set) Check(cert, issuer *x509.Certificate, opts Options) (Result, error) {
	if cert == nil || issuer == nil {
		return Result{}, errorf(ReasonInvalidArgument, "", nil, "Check needs the certificate and its issuer")
	}
	if !bytes.Equal(cert.RawIssuer, issuer.RawSubject) {
		return Result{}, errorf(ReasonInvalidArgument, "", nil, "the certificate's issuer %q is not the subject %q of the issuer certificate", cert.Issuer, issuer.Subject)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	serial := serialHex(cert.SerialNumber)
	var res Result
	var usable []*CRL
	if s != nil {
		for _, c := range s.crls {
			if !bytes.Equal(c.List.RawIssuer, issuer.RawSubject) {
				continue
			}
			if err := c.usableFor(cert, issuer, now, opts.ClockSkew); err != nil {
				r := Rejection{CRL: c, Err: err}
				if err.Reason == ReasonOutOfScope {
					res.Skipped = append(res.Skipped, r)
				} else {
					res.Rejected = append(res.Rejected, r)
				}
				continue
			}
			usable = append(usable, c)
		}
	}

	// A revocation in any usable CRL counts, current or not (revocation is
	// final), except a certificateHold that a newer CRL no longer lists.
	// Of several, the earliest R decides.
	var found *entry
	for _, c := range usable {
		e, ok := c.entries[serial]
		if !ok || e.reason == CertificateHold && holdReleased(c, usable, serial) {
			continue
		}
		if found == nil || e.revokedAt().Before(found.revokedAt()) {
			found, res.CRL = &e, c
		}
	}
	if found != nil {
		res.RevokedAt, res.RevocationDate, res.InvalidityDate, res.Reason = found.revokedAt(), found.revocationDate, found.invalidityDate, found.reason
		what := fmt.Sprintf("certificate serial %s revoked at %s", serial, stamp(res.RevokedAt))
		if !found.invalidityDate.IsZero() {
			what += fmt.Sprintf(" (invalidity date; revocation date %s)", stamp(found.revocationDate))
		}
		what += fmt.Sprintf(", reason %s, by CRL %s", found.reason, res.CRL.Describe())
		switch {
		case opts.TrustedTime.IsZero():
			res.Status = Revoked
			res.Detail = what + "; no trusted time"
		case opts.TrustedTime.Before(res.RevokedAt):
			res.Status = RevokedAfterTrustedTime
			res.Detail = what + fmt.Sprintf("; the trusted time %s is before it: the seal predates the revocation", stamp(opts.TrustedTime))
		default:
			res.Status = Revoked
			res.Detail = what + fmt.Sprintf("; the trusted time %s is not before it", stamp(opts.TrustedTime))
		}
		return res, nil
	}

	judgedAt, judgedWhat := now, "the verification time"
	if opts.Currency == CurrentAtTrustedTime && !opts.TrustedTime.IsZero() {
		judgedAt, judgedWhat = opts.TrustedTime, "the trusted time"
	}
	var current, stale *CRL
	for _, c := range usable {
		isCurrent := opts.Currency == CurrencyNotChecked ||
			!c.List.NextUpdate.IsZero() && !c.List.NextUpdate.Before(judgedAt)
		if isCurrent {
			if current == nil || newer(c, current) {
				current = c
			}
		} else if stale == nil || newer(c, stale) {
			stale = c
		}
	}
	switch {
	case current != nil:
		res.Status, res.CRL = NotRevoked, current
		res.Detail = fmt.Sprintf("certificate serial %s is not revoked by CRL %s", serial, current.Describe())
	case stale != nil:
		res.Status, res.CRL = CRLExpired, stale
		why := "it has no nextUpdate"
		if !stale.List.NextUpdate.IsZero() {
			why = fmt.Sprintf("its nextUpdate is before %s %s", judgedWhat, stamp(judgedAt))
		}
		res.Detail = fmt.Sprintf("certificate serial %s is not listed by CRL %s, but %s: it cannot say the certificate is not revoked now", serial, stale.Describe(), why)
	case len(res.Rejected) > 0:
		res.Status, res.CRL = CRLInvalid, res.Rejected[0].CRL
		res.Detail = fmt.Sprintf("no usable CRL for issuer %s: %v", issuer.Subject, res.Rejected[0].Err)
		if n := len(res.Rejected); n > 1 {
			res.Detail += fmt.Sprintf(" (and %d more rejected)", n-1)
		}
	default:
		res.Status = NoCRL
		res.Detail = fmt.Sprintf("no CRL for issuer %s", issuer.Subject)
		if n := len(res.Skipped); n > 0 {
			res.Detail += fmt.Sprintf(" covers the certificate (%d of the issuer's CRLs cover other certificates only: %v)", n, res.Skipped[0].Err)
		}
	}
	return res, nil
}

// usableFor says why c, whose issuer name is issuer's subject, cannot
// decide cert's status, or nil if it can.
func (c *CRL) usableFor(cert, issuer *x509.Certificate, now time.Time, skew time.Duration) *Error {
	if err := c.checkSignature(issuer); err != nil {
		return err
	}
	if aki := c.List.AuthorityKeyId; len(aki) > 0 && len(issuer.SubjectKeyId) > 0 && !bytes.Equal(aki, issuer.SubjectKeyId) {
		return errorf(ReasonAuthorityKeyID, c.String(), nil, "the CRL names key %x, the issuer certificate has key %x", aki, issuer.SubjectKeyId)
	}
	if c.Problem != nil {
		return c.Problem
	}
	if skew < 0 {
		skew = 0
	}
	if c.List.ThisUpdate.After(now.Add(skew)) {
		return errorf(ReasonNotYetValid, c.String(), nil, "thisUpdate %s is after the verification time %s", stamp(c.List.ThisUpdate), stamp(now))
	}
	if dp := c.scope; dp != nil {
		isCA := cert.BasicConstraintsValid && cert.IsCA
		switch {
		case dp.onlyAttr:
			return errorf(ReasonOutOfScope, c.String(), nil, "it lists attribute certificates only")
		case dp.onlyUser && isCA:
			return errorf(ReasonOutOfScope, c.String(), nil, "it lists end-entity certificates only")
		case dp.onlyCA && !isCA:
			return errorf(ReasonOutOfScope, c.String(), nil, "it lists CA certificates only")
		case len(dp.uris) > 0 && len(cert.CRLDistributionPoints) > 0 && !slices.ContainsFunc(dp.uris, func(u string) bool {
			return slices.Contains(cert.CRLDistributionPoints, u)
		}):
			return errorf(ReasonOutOfScope, c.String(), nil, "its distribution point %v is not one of the certificate's %v", dp.uris, cert.CRLDistributionPoints)
		}
	}
	return nil
}

// maxSigCache bounds the signature verdicts a CRL remembers (one per
// issuer certificate it was checked against).
const maxSigCache = 16

// checkSignature verifies c's signature with issuer's key, once per issuer.
func (c *CRL) checkSignature(issuer *x509.Certificate) *Error {
	c.mu.Lock()
	verdict, ok := c.sigs[string(issuer.Raw)]
	c.mu.Unlock()
	if ok {
		return verdict
	}
	if err := c.List.CheckSignatureFrom(issuer); err != nil {
		var cv x509.ConstraintViolationError
		switch {
		case errors.As(err, &cv) && issuer.KeyUsage != 0 && issuer.KeyUsage&x509.KeyUsageCRLSign == 0:
			verdict = errorf(ReasonIssuer, c.String(), err, "the keyUsage of issuer %s lacks cRLSign", issuer.Subject)
		case errors.As(err, &cv):
			verdict = errorf(ReasonIssuer, c.String(), err, "issuer %s is not a CA", issuer.Subject)
		default:
			verdict = errorf(ReasonSignature, c.String(), err, "not signed by the key of issuer %s (serial %s); forged or damaged", issuer.Subject, serialHex(issuer.SerialNumber))
		}
	}
	c.mu.Lock()
	if c.sigs == nil {
		c.sigs = make(map[string]*Error)
	}
	if len(c.sigs) < maxSigCache {
		c.sigs[string(issuer.Raw)] = verdict
	}
	c.mu.Unlock()
	return verdict
}

// newer says a is a later CRL than b: by CRL number when both have one,
// else by thisUpdate.
func newer(a, b *CRL) bool {
	if a.List.Number != nil && b.List.Number != nil {
		return a.List.Number.Cmp(b.List.Number) > 0
	}
	return a.List.ThisUpdate.After(b.List.ThisUpdate)
}

// holdReleased says a newer usable CRL than c no longer lists serial, which
// c has on hold: the hold was lifted (RFC 5280 section 5.3.1).
func holdReleased(c *CRL, usable []*CRL, serial string) bool {
	for _, o := range usable {
		if _, listed := o.entries[serial]; !listed && newer(o, c) {
			return true
		}
	}
	return false
}
