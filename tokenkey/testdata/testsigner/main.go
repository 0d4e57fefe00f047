// Command testsigner is the external signer of tokenkey's tests: it speaks
// the exec: protocol (see tokenkey.ExecScheme) with the PKCS#8 key in
// $TESTSIGNER_KEY, and misbehaves as $TESTSIGNER_MODE says: "hang" (never
// answers a sign request), "otherkey" (signs with a fresh key), "crash"
// (dies on a sign request), "garbage" (answers public-key with text).
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	b, err := os.ReadFile(os.Getenv("TESTSIGNER_KEY"))
	if err != nil {
		fail(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		fail(fmt.Errorf("no PEM key"))
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		fail(err)
	}
	key := k.(*ecdsa.PrivateKey)
	mode := os.Getenv("TESTSIGNER_MODE")
	switch {
	case len(os.Args) == 2 && os.Args[1] == "public-key":
		if mode == "garbage" {
			fmt.Println("hello")
			return
		}
		der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		pem.Encode(os.Stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
	case len(os.Args) == 3 && os.Args[1] == "sign":
		digest, _ := io.ReadAll(os.Stdin)
		switch mode {
		case "hang":
			time.Sleep(time.Hour)
		case "crash":
			fmt.Fprintln(os.Stderr, "the token fell out")
			os.Exit(3)
		case "otherkey":
			key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		sig, err := key.Sign(rand.Reader, digest, crypto.SHA256)
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(sig)
	default:
		fail(fmt.Errorf("usage: testsigner public-key | sign HASH"))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "testsigner:", err)
	os.Exit(2)
}
