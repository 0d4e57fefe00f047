package revocation

import (
	"errors"
	"fmt"
)

// Reason classifies an Error. The zero value is never used.
type Reason int

// Reasons for an Error. Load and ParseCRLs return the first five; the
// others describe a CRL that was read but cannot decide a certificate's
// status (Result.Rejected, Result.Skipped), and ReasonInvalidArgument a
// misuse of Check.
const (
	_                       Reason = iota
	ReasonIO                       // the file cannot be read
	ReasonTooLarge                 // the file is larger than MaxCRLSize
	ReasonNotCRL                   // the data is neither a DER CRL nor PEM "X509 CRL" blocks
	ReasonMalformed                // a CRL that does not parse, or breaks RFC 5280 in a way that makes it unusable
	ReasonUnsupported              // a CRL this package does not judge: version 1, delta, indirect, partial (onlySomeReasons)
	ReasonCriticalExtension        // a critical CRL or CRL entry extension this package does not know
	ReasonSignature                // the CRL's signature does not verify with the issuer's public key
	ReasonIssuer                   // the issuer certificate may not sign CRLs (not a CA, or keyUsage without cRLSign)
	ReasonAuthorityKeyID           // the CRL's authority key identifier is not the issuer's subject key identifier
	ReasonNotYetValid              // the CRL's thisUpdate is after the verification time
	ReasonOutOfScope               // the CRL's issuing distribution point does not cover the certificate
	ReasonInvalidArgument          // Check was given no certificate, or an issuer that did not issue it
)

var reasonText = map[Reason]string{
	ReasonIO:                "I/O error",
	ReasonTooLarge:          "too large",
	ReasonNotCRL:            "not a CRL",
	ReasonMalformed:         "malformed CRL",
	ReasonUnsupported:       "unsupported CRL",
	ReasonCriticalExtension: "unknown critical extension",
	ReasonSignature:         "signature does not verify",
	ReasonIssuer:            "issuer may not sign CRLs",
	ReasonAuthorityKeyID:    "authority key identifier mismatch",
	ReasonNotYetValid:       "CRL not yet valid",
	ReasonOutOfScope:        "CRL does not cover the certificate",
	ReasonInvalidArgument:   "invalid argument",
}

// String returns a short human-readable description of r.
func (r Reason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("revocation.Reason(%d)", int(r))
}

// Error is the error type of this package, in the manner of
// x509.CertificateInvalidError: a Reason to switch on, the CRL file
// concerned and a detail for humans.
type Error struct {
	Reason Reason
	// File names the CRL: the file name given to Load or ParseCRLs, with
	// "#N" appended for the Nth CRL of a file that holds several. Empty for
	// ReasonInvalidArgument.
	File   string
	Detail string // what exactly, for humans
	Err    error  // the underlying error, if any
}

// Error returns "crl FILE: REASON: DETAIL: ERR", leaving out empty parts.
func (e *Error) Error() string {
	s := "crl"
	if e.File != "" {
		s += " " + e.File
	}
	s += ": " + e.Reason.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of the first *Error in err's chain, or 0 if
// there is none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

func errorf(r Reason, file string, err error, format string, args ...any) *Error {
	return &Error{Reason: r, File: file, Detail: fmt.Sprintf(format, args...), Err: err}
}
