// Package revocation checks signer certificates against certificate
// revocation lists (RFC 5280) that the examiner supplies, offline: tlseal
// fetches nothing. CRLs come from files (tlseal's --crl FILE, repeatable)
// or certificate store elements tagged -crl; Load and ParseCRLs read them
// into a Set, and Set.Check judges one certificate with the issuer
// certificate of its verified chain.
//
// # Reading CRLs
//
// A CRL file is one DER CRL or PEM with one or more "X509 CRL" blocks, at
// most MaxCRLSize (64 MiB). Anything else — empty, neither DER nor PEM, a
// PEM block of another type, a truncated block, trailing bytes after the
// DER, a CRL crypto/x509 cannot parse, a version 1 CRL — is an *Error
// naming the file and the cause, and the file is not used. A CRL that
// parses but may not be used (see below) is kept with its Problem, so that
// it is reported where it matters: for the certificates of its issuer.
//
// # Choosing the CRLs of an issuer
//
// A CRL is the issuer's when its issuer name is, byte for byte, the
// subject of the issuer certificate, and then it must be authentic: its
// signature verifies with crl.CheckSignatureFrom(issuer), which also
// requires the issuer to be a CA whose keyUsage, when present, allows
// cRLSign; and its authority key identifier, when it and the issuer's
// subject key identifier are both present, is that identifier. A CRL with
// the issuer's name that fails either is rejected (crl.invalid): a forged
// CRL never says "not revoked". So is a CRL that is
//
//   - a delta CRL (deltaCRLIndicator), an indirect CRL (indirectCRL in its
//     issuingDistributionPoint, or a certificateIssuer entry extension), or
//     a partial one (onlySomeReasons): unsupported, only complete CRLs
//     are judged;
//   - carrying a critical CRL or entry extension other than those above and
//     authorityKeyIdentifier, cRLNumber, reasonCode, invalidityDate,
//     holdInstructionCode, freshestCRL, authorityInfoAccess (RFC 5280
//     section 5: such a CRL must not be used);
//   - malformed beyond what crypto/x509 checks: an extension twice, a
//     nextUpdate before its thisUpdate, an invalidityDate that is not a
//     GeneralizedTime, an entry with reason removeFromCRL (delta CRLs
//     only);
//   - not yet valid: thisUpdate after the verification time. A CRL from
//     the future cannot vouch for the present: either the examiner's clock
//     or the CA's is wrong, and the examiner should know. Options.ClockSkew
//     tolerates a small difference; the default tolerates none.
//
// An authentic CRL whose issuingDistributionPoint does not cover the
// certificate (onlyContainsCACerts for an end-entity certificate, and the
// reverse; onlyContainsAttributeCerts; a distribution point URI that is not
// among the certificate's CRL distribution points, when both name URIs) is
// skipped, not rejected.
//
// # Deciding
//
// Of the usable CRLs, a revocation in any of them counts, whether the CRL is
// current or not (revocation is final), except a certificateHold that a
// newer CRL (by cRLNumber, else thisUpdate) no longer lists; of several
// entries the earliest R counts. R is the entry's invalidity date
// (id-ce-invalidityDate, 2.5.29.24) when it has one, else its revocation
// date. Then the status, with the finding code it maps to (Status.Code):
//
//   - Revoked (cert.revoked, failure): revoked at R, and there is no
//     trusted time or the trusted time is not before R.
//   - RevokedAfterTrustedTime (cert.revokedAfterTrustedTime, info): revoked
//     at R, and the trusted time is before R: the seal provably predates
//     the revocation.
//   - NotRevoked (no finding): not listed, and a usable CRL is current.
//   - CRLExpired (crl.expired): not listed, but every usable CRL has a
//     nextUpdate before the time of judgement, or none: it cannot say the
//     certificate is not revoked now.
//   - CRLInvalid (crl.invalid): CRLs name the issuer, but none is usable.
//   - NoCRL (crl.missing, info): no CRL names the issuer (or none covers
//     the certificate), never a silent pass.
//
// Result.Rejected lists every rejected CRL of the issuer, whatever the
// status, each worth its own crl.invalid finding.
//
// # The time of judgement for expiry
//
// By default a CRL is current when its nextUpdate is not before the
// verification time (Options.Now, default time.Now()): that is what an
// examiner expects of "not revoked", since a CRL past its nextUpdate misses
// the revocations made since, including ones an invalidity date places
// before the seal. Options.Currency can judge at the trusted time instead
// (the CRL was current when the seal was made), or not at all (the final
// CRL of a CA that no longer exists). The trusted time itself only decides
// between Revoked and RevokedAfterTrustedTime.
package revocation
