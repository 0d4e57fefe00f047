//go:build cgo

package tokenkey

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/ThalesGroup/crypto11"
	pkcs11uri "github.com/stefanberger/go-pkcs11uri"
)

// contexts are the open tokens, one per module, token label and PIN: a
// module is initialised once per process, and a key and its certificate,
// or a signer and a checkpoint signer in the same token, share a login.
var contexts struct {
	sync.Mutex
	m map[string]*crypto11.Context
}

// target is what a URI names: a token (opened) and an object in it.
type target struct {
	ctx       *crypto11.Context
	ctxKey    string // ctx's key in contexts
	shown     string // the URI, redacted
	object    string
	id        string
	label, ib []byte // object and id as crypto11 wants them (nil when absent)
}

func (tg *target) fail(r Reason, format string, args ...any) error {
	return &Error{Reason: r, URI: tg.shown, Err: fmt.Errorf(format, args...)}
}

// resolve parses uri and opens (logs in to) its token.
func resolve(uri string) (*target, error) {
	tg := &target{shown: Redact(uri)}
	u := pkcs11uri.New()
	if err := u.Parse(uri); err != nil {
		return nil, &Error{Reason: ReasonInvalidURI, URI: tg.shown, Err: err}
	}
	token, _ := u.GetPathAttribute("token", false)
	if token == "" {
		return nil, tg.fail(ReasonInvalidURI, "name the token by its label (token=...): slot numbers change")
	}
	tg.object, _ = u.GetPathAttribute("object", false)
	tg.id, _ = u.GetPathAttribute("id", false)
	if tg.object == "" && tg.id == "" {
		return nil, tg.fail(ReasonInvalidURI, "name the key (object=LABEL or id=...)")
	}
	if tg.object != "" {
		tg.label = []byte(tg.object)
	}
	if tg.id != "" {
		tg.ib = []byte(tg.id)
	}
	u.SetAllowAnyModule(true)
	module, err := u.GetModule()
	if err != nil {
		return nil, &Error{Reason: ReasonModule, URI: tg.shown, Err: fmt.Errorf("%w (module-path=FILE, or module-name with module-path=DIR)", err)}
	}
	if !u.HasPIN() {
		return nil, tg.fail(ReasonPIN, "no PIN: add pin-source=file:/path/to/pin (or pin-value, which is unsafe)")
	}
	pin, err := u.GetPIN()
	if err != nil {
		return nil, &Error{Reason: ReasonPIN, URI: tg.shown, Err: err}
	}
	if _, fromFile := u.GetQueryAttribute("pin-source", false); fromFile {
		pin = strings.TrimSuffix(strings.TrimSuffix(pin, "\n"), "\r")
	}
	tg.ctxKey = module + "\x00" + token + "\x00" + pin
	if tg.ctx, err = tokenContext(tg.ctxKey, module, token, pin); err != nil {
		return nil, &Error{Reason: reasonOf(err), URI: tg.shown, Err: err}
	}
	return tg, nil
}

// find returns the key pair the target names, or nil.
func (tg *target) find() (crypto11.Signer, error) {
	s, err := tg.ctx.FindKeyPair(tg.ib, tg.label)
	if err != nil && strings.Contains(err.Error(), "not found") {
		return nil, nil // crypto11 reports a half-present pair so
	}
	if err != nil {
		return nil, &Error{Reason: ReasonToken, URI: tg.shown, Err: err}
	}
	return s, nil
}

// Open resolves a PKCS#11 URI to the key it names.
func Open(uri string) (*Key, error) {
	tg, err := resolve(uri)
	if err != nil {
		return nil, err
	}
	s, err := tg.find()
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, tg.fail(ReasonNotFound, "no key pair with %s", describe(tg.object, tg.id))
	}
	k := &Key{Signer: &tokenSigner{uri: uri, shown: tg.shown, pub: s.Public(), s: s, ctx: tg.ctx, ctxKey: tg.ctxKey}}
	if c, err := tg.ctx.FindCertificate(tg.ib, tg.label, nil); err == nil && c != nil {
		k.Cert = c
	}
	return k, nil
}

// Generate makes a new ECDSA key pair inside the token, with the URI's
// label and id (a random id when it names none); the private key is not
// extractable. A key already there with that label or id is an error.
func Generate(uri string, curve elliptic.Curve) (crypto.Signer, error) {
	tg, err := resolve(uri)
	if err != nil {
		return nil, err
	}
	if s, err := tg.find(); err != nil {
		return nil, err
	} else if s != nil {
		return nil, tg.fail(ReasonExists, "the token already holds a key pair with %s", describe(tg.object, tg.id))
	}
	id := tg.ib
	if id == nil {
		id = make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return nil, err
		}
	}
	s, err := tg.ctx.GenerateECDSAKeyPairWithLabel(id, tg.label, curve)
	if err != nil {
		return nil, &Error{Reason: ReasonToken, URI: tg.shown, Err: fmt.Errorf("generating the key pair: %w", err)}
	}
	return s, nil
}

// StoreCertificate stores cert in the token beside the key the URI names
// (same label and id), where Open finds it.
func StoreCertificate(uri string, cert *x509.Certificate) error {
	tg, err := resolve(uri)
	if err != nil {
		return err
	}
	id := tg.ib
	if id == nil {
		// The key's own id, so that the certificate is found by it too.
		s, err := tg.find()
		if err != nil {
			return err
		}
		if s == nil {
			return tg.fail(ReasonNotFound, "no key pair with %s", describe(tg.object, tg.id))
		}
		if id, err = keyID(tg.ctx, s); err != nil {
			return &Error{Reason: ReasonToken, URI: tg.shown, Err: err}
		}
	}
	if err := tg.ctx.ImportCertificateWithLabel(id, tg.label, cert); err != nil {
		return &Error{Reason: ReasonToken, URI: tg.shown, Err: fmt.Errorf("storing the certificate: %w", err)}
	}
	return nil
}

func keyID(ctx *crypto11.Context, s crypto11.Signer) ([]byte, error) {
	attrs, err := ctx.GetAttributes(s, []crypto11.AttributeType{crypto11.CkaId})
	if err != nil {
		return nil, err
	}
	a, ok := attrs[crypto11.CkaId]
	if !ok || a == nil {
		return nil, fmt.Errorf("the key has no CKA_ID")
	}
	return a.Value, nil
}

func describe(object, id string) string {
	switch {
	case object != "" && id != "":
		return fmt.Sprintf("label %q and id %x", object, id)
	case object != "":
		return fmt.Sprintf("label %q", object)
	}
	return fmt.Sprintf("id %x", id)
}

func tokenContext(key, module, token, pin string) (*crypto11.Context, error) {
	contexts.Lock()
	defer contexts.Unlock()
	if c, ok := contexts.m[key]; ok {
		return c, nil
	}
	c, err := crypto11.Configure(&crypto11.Config{Path: module, TokenLabel: token, Pin: pin})
	if err != nil {
		return nil, err
	}
	if contexts.m == nil {
		contexts.m = map[string]*crypto11.Context{}
	}
	contexts.m[key] = c
	return c, nil
}

// reasonOf classifies a crypto11.Configure error.
func reasonOf(err error) Reason {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "could not find PKCS#11 token"), strings.Contains(msg, "PIN"), strings.Contains(msg, "C_Login"):
		return ReasonToken
	}
	return ReasonModule
}

// dropContext closes ctx and forgets it, unless it was replaced already
// (by another key of the same token that noticed first). crypto11 waits
// for the signatures in progress before it closes.
func dropContext(key string, ctx *crypto11.Context) {
	contexts.Lock()
	defer contexts.Unlock()
	if contexts.m[key] != ctx {
		return
	}
	delete(contexts.m, key)
	ctx.Close()
}

// tokenSigner signs with a key in a token and survives the token going
// away and coming back (a USB token pulled, an HSM restarted, a network
// HSM's link lost): a failed signature drops its handle and the token's
// context, and the next Sign opens the token again and finds the key by
// its URI. The key found must be the same key (its public half), never
// another one that took its label. Callers retry with their own backoff;
// each Sign while the token is away costs one attempt to open it.
type tokenSigner struct {
	uri, shown string
	pub        crypto.PublicKey

	mu     sync.Mutex
	s      crypto11.Signer // nil while the token is away
	ctx    *crypto11.Context
	ctxKey string
}

func (ts *tokenSigner) Public() crypto.PublicKey { return ts.pub }

func (ts *tokenSigner) Sign(random io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s, ctx, err := ts.current()
	if err != nil {
		return nil, err
	}
	sig, err := s.Sign(random, digest, opts)
	if err != nil {
		ts.mu.Lock()
		if ts.s == s {
			ts.s = nil
			dropContext(ts.ctxKey, ctx)
		}
		ts.mu.Unlock()
		return nil, &Error{Reason: ReasonUnavailable, URI: ts.shown, Err: fmt.Errorf("the token did not sign: %w", err)}
	}
	return sig, nil
}

// current returns the key's signer, opening the token again if it was
// lost.
func (ts *tokenSigner) current() (crypto11.Signer, *crypto11.Context, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.s != nil {
		return ts.s, ts.ctx, nil
	}
	unavailable := func(err error) error {
		return &Error{Reason: ReasonUnavailable, URI: ts.shown, Err: err}
	}
	tg, err := resolve(ts.uri)
	if err != nil {
		return nil, nil, unavailable(fmt.Errorf("opening the token again: %w", err))
	}
	s, err := tg.find()
	if err == nil && s == nil {
		err = fmt.Errorf("no key pair with %s", describe(tg.object, tg.id))
	}
	if err != nil {
		// The token is there but not (yet) its key: open it afresh next
		// time, as its objects may come back with it.
		dropContext(tg.ctxKey, tg.ctx)
		return nil, nil, unavailable(fmt.Errorf("opening the token again: %w", err))
	}
	if pe, ok := ts.pub.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pe.Equal(s.Public()) {
		// Not retried into success: the URI now names another key.
		return nil, nil, &Error{Reason: ReasonNotFound, URI: ts.shown,
			Err: fmt.Errorf("the token came back, but the key with %s is not the key it had before", describe(tg.object, tg.id))}
	}
	ts.s, ts.ctx, ts.ctxKey = s, tg.ctx, tg.ctxKey
	return s, tg.ctx, nil
}
