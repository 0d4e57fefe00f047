package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlseal/tlseal/certstore"
	"github.com/tlseal/tlseal/internal/memfile"
	"github.com/tlseal/tlseal/internal/samples"
	"github.com/tlseal/tlseal/timeline"
)

// cmdPKI writes a development CA (ca.pem) and a P-256 signer it issued
// (signer.pem, signer.key) into a directory. For benchmarks only.
func cmdPKI(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: benchtool pki DIR")
	}
	dir := args[0]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	now := time.Now()
	issue := func(cn string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber:          serial,
			Subject:               pkix.Name{CommonName: cn, Organization: []string{"tlseal benchmark PKI (not for evidence)"}},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(30 * 24 * time.Hour),
			BasicConstraintsValid: true,
			IsCA:                  isCA,
			KeyUsage:              x509.KeyUsageDigitalSignature,
		}
		if isCA {
			tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
		if err != nil {
			return nil, nil, err
		}
		c, err := x509.ParseCertificate(der)
		return c, key, err
	}
	ca, caKey, err := issue("tlseal benchmark CA", true, nil, nil)
	if err != nil {
		return err
	}
	leaf, leafKey, err := issue("tlseal benchmark signer", false, ca, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		return err
	}
	files := []struct {
		name string
		typ  string
		der  []byte
		perm os.FileMode
	}{
		{"ca.pem", "CERTIFICATE", ca.Raw, 0o644},
		{"signer.pem", "CERTIFICATE", leaf.Raw, 0o644},
		{"signer.key", "PRIVATE KEY", keyDER, 0o600},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.perm); err != nil {
			return err
		}
	}
	return nil
}

// cmdWAV writes a 16-bit stereo 48 kHz PCM WAVE file of exactly -size bytes
// whose samples are pseudo-random noise (the content does not matter to
// hashing; noise keeps any layer from compressing it). -seed varies the
// noise; seed 0 is the noise of earlier runs.
func cmdWAV(args []string) error {
	fs := flag.NewFlagSet("wav", flag.ContinueOnError)
	size := fs.Int64("size", 512<<20, "file size in bytes (even, at least 44)")
	seed := fs.Uint64("seed", 0, "noise seed (files of different seeds differ)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *size < 44 || *size%2 == 1 || *size > 0xFFFFFFFF {
		return errors.New("usage: benchtool wav -size BYTES OUT (BYTES even, 44..4 GiB)")
	}
	f, err := os.Create(fs.Arg(0))
	if err != nil {
		return err
	}
	data := *size - 44
	hdr := samples.WAVFromPCM(48000, 2, 16, nil)
	binary.LittleEndian.PutUint32(hdr[4:], uint32(36+data))
	binary.LittleEndian.PutUint32(hdr[40:], uint32(data))
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(hdr)
	key := [32]byte{'t', 'l', 's', 'e', 'a', 'l', '-', 'b', 'e', 'n', 'c', 'h'}
	binary.LittleEndian.PutUint64(key[24:], *seed)
	rng := mrand.NewChaCha8(key)
	buf := make([]byte, 1<<20)
	for left := data; left > 0; {
		n := min(left, int64(len(buf)))
		rng.Read(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cmdEvents writes n sealed Engage-style event files, each about -size
// bytes once sealed (the original is padded with a "notes" member so that
// original + seal reach the size).
func cmdEvents(args []string) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	certPath := fs.String("cert", "", "signer certificate PEM")
	keyPath := fs.String("key", "", "signer key PEM")
	n := fs.Int("n", 5000, "number of files")
	size := fs.Int("size", 2048, "approximate size of each sealed file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: benchtool events -cert C -key K -n N -size B DIR")
	}
	dir := fs.Arg(0)
	signer, err := loadSigner(*certPath, *keyPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	start := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	// The seal's length is about the same for every file: measure it once.
	probe, err := sealBytes(signer, "event-000000.json", padEvent(0, start, 0))
	if err != nil {
		return err
	}
	overhead := len(probe) - len(padEvent(0, start, 0))
	var total int64
	for i := 0; i < *n; i++ {
		name := fmt.Sprintf("event-%06d.json", i)
		base := padEvent(i, start, 0)
		orig := padEvent(i, start, max(0, *size-overhead-len(base)))
		sealed, err := sealBytes(signer, name, orig)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), sealed, 0o644); err != nil {
			return err
		}
		total += int64(len(sealed))
	}
	fmt.Printf("%d files, %d bytes, %.0f bytes each on average\n", *n, total, float64(total)/float64(max(*n, 1)))
	return nil
}

// padEvent is samples.EventJSON with a "notes" member of pad bytes.
func padEvent(i int, start time.Time, pad int) []byte {
	ev := samples.EventJSON(i, start.Add(time.Duration(i)*time.Second), fmt.Sprintf("rec-%06d.wav", i))
	end := bytes.LastIndexByte(ev, '}')
	return []byte(strings.TrimRight(string(ev[:end]), " \n") + ",\n  \"notes\": \"" + strings.Repeat("x", pad) + "\"\n}\n")
}

func sealBytes(s *timeline.Signer, name string, orig []byte) ([]byte, error) {
	var out memfile.File
	if _, err := timeline.Seal(&out, bytes.NewReader(orig), int64(len(orig)), timeline.SealOptions{Name: name, Signer: s}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// cmdSHA256 prints Go's SHA-256 of each file, reading it in 1 MiB pieces
// (the same read size as tlseal): the limit of verifying a large file.
func cmdSHA256(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: benchtool sha256 FILE...")
	}
	buf := make([]byte, 1<<20)
	for _, name := range args {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.CopyBuffer(h, struct{ io.Reader }{f}, buf)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Printf("%s  %s\n", hex.EncodeToString(h.Sum(nil)), name)
	}
	return nil
}

// cmdSeal seals IN into OUT with timeline.Seal, without the temporary file
// and fsyncs of tlseal sign: it separates the cost of sealing from the cost
// of durability.
func cmdSeal(args []string) error {
	fs := flag.NewFlagSet("seal", flag.ContinueOnError)
	certPath := fs.String("cert", "", "signer certificate PEM")
	keyPath := fs.String("key", "", "signer key PEM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("usage: benchtool seal -cert C -key K IN OUT")
	}
	signer, err := loadSigner(*certPath, *keyPath)
	if err != nil {
		return err
	}
	in, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.Create(fs.Arg(1))
	if err != nil {
		return err
	}
	if _, err := timeline.Seal(out, in, st.Size(), timeline.SealOptions{Name: filepath.Base(fs.Arg(0)), Signer: signer}); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func loadSigner(certPath, keyPath string) (*timeline.Signer, error) {
	if certPath == "" || keyPath == "" {
		return nil, errors.New("-cert and -key are required")
	}
	cert, err := readCert(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	key, ok, err := certstore.ParsePrivateKey(keyPEM)
	if err == nil && !ok {
		err = errors.New("no private key")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	return timeline.NewSigner(cert, nil, key)
}
