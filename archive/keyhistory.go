package archive

// The archive's checkpoint keys are pinned (docs/archive.md, "Checkpoint
// keys"). The key that creates an archive is its first checkpoint key,
// named in keys/first; a later key signs checkpoints only once a rotation
// statement signed by a key already accepted introduces it
// (keys/<keyhash>.rotation). A key merely dropped into keys/ — even one
// issued by the same CA — cannot re-sign a cut log. Archives made before
// pinning (no keys/first) accept every key in keys/, as they did, and
// Check says so.

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/tlseal/tlseal/internal/atomicfile"
	"github.com/tlseal/tlseal/timeline"
)

const (
	firstKeyFile   = keysDir + "/first"
	rotationSuffix = ".rotation"
	rotationHeader = "tlseal checkpoint key rotation"
)

// spkiSHA256 is the lowercase hex SHA-256 of a key's SubjectPublicKeyInfo.
func spkiSHA256(pub crypto.PublicKey) (string, error) {
	der, err := spki(pub)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:]), nil
}

// writeFirstKey pins the creating signer's key.
func writeFirstKey(dir string, s *timeline.Signer) error {
	h, err := spkiSHA256(s.Cert.PublicKey)
	if err != nil {
		return errorf(ReasonInvalidArgument, "", err, "checkpoint signing key")
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, filepath.FromSlash(firstKeyFile)), []byte(h+"\n"), 0o444, false); err != nil {
		return errorf(ReasonIO, firstKeyFile, err, "pinning the first checkpoint key")
	}
	return nil
}

// rotationText is what a rotation statement signs: the archive's origin
// and the new key.
func rotationText(origin, newSPKI string) string {
	return rotationHeader + "\n" + origin + "\n" + newSPKI + "\n"
}

// rotationStatement is the signed note that introduces next's key as a
// checkpoint key, signed by prev (a key the archive accepts), and its name
// in the layout.
func rotationStatement(origin string, prev, next *timeline.Signer) (name string, msg []byte, err error) {
	h, err := KeyHash(next.Cert.PublicKey)
	if err != nil {
		return "", nil, errorf(ReasonInvalidArgument, "", err, "checkpoint signing key")
	}
	newSPKI, err := spkiSHA256(next.Cert.PublicKey)
	if err != nil {
		return "", nil, errorf(ReasonInvalidArgument, "", err, "checkpoint signing key")
	}
	ns, err := newNoteSigner(origin, prev.Key, prev.Deterministic)
	if err != nil {
		return "", nil, errorf(ReasonInvalidArgument, "", err, "the previous checkpoint key")
	}
	msg, err = note.Sign(&note.Note{Text: rotationText(origin, newSPKI)}, ns)
	if err != nil {
		return "", nil, errorf(ReasonInvalidArgument, "", err, "signing the key rotation")
	}
	return keysDir + "/" + fmt.Sprintf("%08x", h) + rotationSuffix, msg, nil
}

// writeRotation writes the rotation statement of next's key into the
// archive directory dir.
func writeRotation(dir, origin string, prev, next *timeline.Signer) error {
	name, msg, err := rotationStatement(origin, prev, next)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), msg, 0o444, false); err != nil && !errors.Is(err, atomicfile.ErrExists) {
		return errorf(ReasonIO, name, err, "writing the key rotation")
	}
	return nil
}

// keyHistory is what the archive's key files say about its checkpoint
// keys.
type keyHistory struct {
	pinned   bool                      // keys/first exists
	accepted map[uint32]*CheckpointKey // the keys that may sign checkpoints
	problems []error                   // keys not introduced, statements that do not verify
}

// acceptedKeys walks the key history: from the first key, every key whose
// rotation statement verifies with a key already accepted. Without
// keys/first (an archive made before pinning) every key is accepted.
func acceptedKeys(dir, origin string, keys map[uint32]*CheckpointKey) (*keyHistory, error) {
	kh := &keyHistory{accepted: map[uint32]*CheckpointKey{}}
	data, err := readLimitedIn(dir, firstKeyFile, 256)
	if errors.Is(err, fs.ErrNotExist) {
		for h, k := range keys {
			kh.accepted[h] = k
		}
		return kh, nil
	}
	if err != nil {
		return nil, errorf(ReasonIO, firstKeyFile, err, "")
	}
	kh.pinned = true
	first := strings.TrimSuffix(string(data), "\n")
	spkis := map[uint32]string{}
	for h, k := range keys {
		s, err := spkiSHA256(k.Cert.PublicKey)
		if err != nil {
			continue
		}
		spkis[h] = s
		if s == first {
			kh.accepted[h] = k
		}
	}
	if len(kh.accepted) == 0 {
		kh.problems = append(kh.problems, fmt.Errorf("%s names key %.16s…, which is not in %s/", firstKeyFile, first, keysDir))
	}
	// Rotations, until no more keys join (each statement is checked
	// against the keys accepted so far: a chain from the first key).
	pending := map[uint32][]byte{}
	for h := range keys {
		if _, ok := kh.accepted[h]; ok {
			continue
		}
		name := keysDir + "/" + fmt.Sprintf("%08x", h) + rotationSuffix
		msg, err := readLimitedIn(dir, name, maxCheckpointLen)
		if errors.Is(err, fs.ErrNotExist) {
			kh.problems = append(kh.problems, fmt.Errorf("%s/%s: key %08x has no rotation statement from an earlier key: it may not sign checkpoints", keysDir, keyFileName(h), h))
			continue
		}
		if err != nil {
			return nil, errorf(ReasonIO, name, err, "")
		}
		pending[h] = msg
	}
	for grew := true; grew; {
		grew = false
		for h, msg := range pending {
			if kh.rotationValid(origin, msg, spkis[h]) {
				kh.accepted[h] = keys[h]
				delete(pending, h)
				grew = true
			}
		}
	}
	for h := range pending {
		kh.problems = append(kh.problems, fmt.Errorf("%s/%08x%s: the rotation statement does not verify with an accepted key: key %08x may not sign checkpoints", keysDir, h, rotationSuffix, h))
	}
	return kh, nil
}

// rotationValid reports whether msg is a rotation statement for the key
// with SPKI hash newSPKI, signed by an accepted key.
func (kh *keyHistory) rotationValid(origin string, msg []byte, newSPKI string) bool {
	var verifiers []note.Verifier
	for _, k := range kh.accepted {
		v, err := newNoteVerifier(origin, k.Cert.PublicKey)
		if err == nil {
			verifiers = append(verifiers, v)
		}
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	return err == nil && n.Text == rotationText(origin, newSPKI)
}

// accepts reports whether the key with hash h may sign checkpoints.
func (kh *keyHistory) accepts(h uint32) bool {
	_, ok := kh.accepted[h]
	return ok
}

// admitKey makes sure the writer's key may sign checkpoints: stored in
// keys/, and, in a pinned archive, accepted already or introduced now by a
// rotation that opts.PreviousSigner signs.
func admitKey(dir, origin string, opts Options) error {
	keys, kh, _, err := readAcceptedKeys(dir, origin)
	if err != nil {
		return err
	}
	h, err := KeyHash(opts.Signer.Cert.PublicKey)
	if err != nil {
		return errorf(ReasonInvalidArgument, "", err, "checkpoint signing key")
	}
	if !kh.pinned || keys[h] != nil {
		_, err := writeKey(dir, opts.Signer)
		return err
	}
	if err := checkPreviousSigner(dir, keys, h, opts); err != nil {
		return err
	}
	if _, err := writeKey(dir, opts.Signer); err != nil {
		return err
	}
	if err := writeRotation(dir, origin, opts.PreviousSigner, opts.Signer); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Join(dir, keysDir))
}

// checkPreviousSigner makes sure a rotation to the key h can be signed:
// opts.PreviousSigner is given and is one of the archive's checkpoint
// keys.
func checkPreviousSigner(dir string, keys map[uint32]*CheckpointKey, h uint32, opts Options) error {
	prev := opts.PreviousSigner
	if prev == nil {
		return errorf(ReasonKeyNotAccepted, dir, nil, "key %08x (%s) is not one of this archive's checkpoint keys; to rotate to it, give the previous key to sign the rotation", h, opts.Signer.Cert.Subject)
	}
	ph, err := KeyHash(prev.Cert.PublicKey)
	if err != nil || keys[ph] == nil {
		return errorf(ReasonKeyNotAccepted, dir, nil, "the previous key %08x (%s) is not one of this archive's checkpoint keys either", ph, prev.Cert.Subject)
	}
	return nil
}
