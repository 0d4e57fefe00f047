package archive

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tlseal/tlseal/internal/atomicfile"
	"github.com/tlseal/tlseal/timeline"
)

// CheckpointKey is a key that signs the archive's checkpoints: the
// certificate of the archive's signer (keys/<keyhash>.pem, with the
// intermediates that followed it).
type CheckpointKey struct {
	KeyHash       uint32
	Cert          *x509.Certificate
	Intermediates []*x509.Certificate
}

// VerifierKey is the signed-note verifier key for the archive's origin.
func (k *CheckpointKey) VerifierKey(origin string) (string, error) {
	return VerifierKey(origin, k.Cert.PublicKey)
}

func keyFileName(h uint32) string { return fmt.Sprintf("%08x.pem", h) }

// writeKey stores the signer's certificate chain under its key hash, once.
func writeKey(dir string, s *timeline.Signer) (uint32, error) {
	h, err := KeyHash(s.Cert.PublicKey)
	if err != nil {
		return 0, errorf(ReasonInvalidArgument, "", err, "checkpoint signing key")
	}
	path := filepath.Join(dir, keysDir, keyFileName(h))
	if _, err := os.Stat(path); err == nil {
		return h, nil
	}
	if err := atomicfile.WriteFile(path, keyPEM(s), 0o644, false); err != nil && !errors.Is(err, atomicfile.ErrExists) {
		return 0, errorf(ReasonIO, path, err, "writing the checkpoint key")
	}
	return h, nil
}

// keyPEM is the content of keys/<keyhash>.pem: the signer's certificate,
// then its intermediates.
func keyPEM(s *timeline.Signer) []byte {
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: s.Cert.Raw})
	for _, c := range s.Intermediates {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// readKeys reads keys/*.pem. A file that does not parse, or whose name is
// not the hash of its key, is returned in bad (Check reports it).
func readKeys(dir string) (keys map[uint32]*CheckpointKey, bad []error, err error) {
	keys = map[uint32]*CheckpointKey{}
	des, err := listArchiveDir(dir, keysDir)
	if errors.Is(err, fs.ErrNotExist) {
		return keys, nil, nil
	}
	if err != nil {
		return nil, nil, errorf(ReasonIO, keysDir, err, "")
	}
	for _, name := range des {
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".pem") {
			continue
		}
		h64, perr := strconv.ParseUint(strings.TrimSuffix(name, ".pem"), 16, 32)
		path := layoutPath(dir, keysDir+"/"+name)
		if perr != nil || len(name) != len("00000000.pem") {
			bad = append(bad, fmt.Errorf("%s/%s: not named <8 hex digits>.pem", keysDir, name))
			continue
		}
		data, err := readArchiveFile(dir, keysDir+"/"+name)
		if err != nil {
			return nil, nil, errorf(ReasonIO, path, err, "")
		}
		certs, err := timeline.ParseChainPEM(string(data))
		if err != nil || len(certs) == 0 {
			bad = append(bad, fmt.Errorf("%s/%s: not PEM certificates", keysDir, name))
			continue
		}
		h, err := KeyHash(certs[0].PublicKey)
		if err != nil || h != uint32(h64) {
			bad = append(bad, fmt.Errorf("%s/%s: the certificate's key hash is %08x", keysDir, name, h))
			continue
		}
		keys[h] = &CheckpointKey{KeyHash: h, Cert: certs[0], Intermediates: certs[1:]}
	}
	return keys, bad, nil
}

// readAcceptedKeys reads keys/ and its key history: the keys that may sign
// checkpoints, and what is wrong with the rest (for Check to report).
func readAcceptedKeys(dir, origin string) (accepted map[uint32]*CheckpointKey, kh *keyHistory, bad []error, err error) {
	keys, bad, err := readKeys(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if kh, err = acceptedKeys(dir, origin, keys); err != nil {
		return nil, nil, nil, err
	}
	return kh.accepted, kh, append(bad, kh.problems...), nil
}

// readCheckpoint reads the checkpoint file and verifies it with the key
// its signature names, which must be one of keys (the accepted keys). The
// Checkpoint is nil when there is none.
func readCheckpoint(dir, origin string, keys map[uint32]*CheckpointKey) (*Checkpoint, *CheckpointKey, error) {
	data, err := readLimitedIn(dir, checkpointFile, maxCheckpointLen)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	parsed, err := ParseCheckpoint(data)
	if err != nil {
		return nil, nil, err
	}
	k := keys[parsed.KeyHash]
	if k == nil {
		return nil, nil, cpErr(ReasonBadSignature, nil, "signed by key %08x, which is not one of the archive's checkpoint keys (not in %s/, or not introduced by a rotation from its first key)", parsed.KeyHash, keysDir)
	}
	cp, err := OpenCheckpoint(data, origin, k.Cert.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return cp, k, nil
}

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, cpErr(ReasonMalformed, nil, "%s is more than %d bytes", filepath.Base(path), max)
	}
	return data, nil
}
