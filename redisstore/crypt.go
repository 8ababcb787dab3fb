package redisstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// EncryptionKey is one AES key of WithEncryption. It prints its ID alone,
// with every fmt verb and in log/slog.
type EncryptionKey struct {
	// ID names the key in every value it seals: 1 to 64 letters, digits,
	// '.', '_' or '-' ("2026-01"). It is not secret.
	ID string
	// Key is 16, 24 or 32 random bytes (AES-128, -192 or -256).
	Key []byte
}

// String returns the key's ID and hides the key itself.
func (k EncryptionKey) String() string {
	return "redisstore.EncryptionKey{ID: " + strconv.Quote(k.ID) + ", Key: [REDACTED]}"
}

// GoString is String.
func (k EncryptionKey) GoString() string { return k.String() }

// Format writes String whatever the verb.
func (k EncryptionKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue logs the key's ID alone.
func (k EncryptionKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("key", "[REDACTED]"))
}

// aeadKey is an EncryptionKey ready for use.
type aeadKey struct {
	id   string
	aead cipher.AEAD
	raw  []byte // a copy, to tell two keys with one ID apart
}

// sealer seals with its current key and opens with any of its keys.
type sealer struct {
	current *aeadKey
	byID    map[string]*aeadKey
}

func newSealer(current EncryptionKey, previous []EncryptionKey) (*sealer, error) {
	s := &sealer{byID: map[string]*aeadKey{}}
	var errs []error
	for i, k := range append([]EncryptionKey{current}, previous...) {
		name := "the current key"
		if i > 0 {
			name = "previous key " + strconv.Itoa(i)
		}
		ak, err := newAEADKey(k)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if old, dup := s.byID[k.ID]; dup {
			if subtle.ConstantTimeCompare(old.raw, ak.raw) != 1 {
				errs = append(errs, fmt.Errorf("%s: ID %q names two different keys", name, k.ID))
			}
			continue
		}
		s.byID[k.ID] = ak
		if i == 0 {
			s.current = ak
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func newAEADKey(k EncryptionKey) (*aeadKey, error) {
	if err := checkKeyID(k.ID); err != nil {
		return nil, err
	}
	switch len(k.Key) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("key %q is %d bytes; AES needs 16, 24 or 32", k.ID, len(k.Key))
	}
	block, err := aes.NewCipher(k.Key)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", k.ID, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", k.ID, err)
	}
	return &aeadKey{id: k.ID, aead: aead, raw: append([]byte(nil), k.Key...)}, nil
}

func checkKeyID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("a key ID must be 1 to 64 characters, not %d", len(id))
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !('0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || b == '.' || b == '_' || b == '-') {
			return fmt.Errorf("key ID %q may hold letters, digits, '.', '_' and '-' only", id)
		}
	}
	return nil
}

// seal encrypts plaintext under the current key with a random nonce, bound
// to aad.
func (s *sealer) seal(plaintext, aad []byte) (keyID string, nonce, sealed []byte, err error) {
	k := s.current
	nonce = make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, nil, fmt.Errorf("redisstore: drawing a nonce: %w", err)
	}
	return k.id, nonce, k.aead.Seal(nil, nonce, plaintext, aad), nil
}

// errUnknownKey: a value is sealed under a key ID the store does not have.
var errUnknownKey = errors.New("sealed under a key this store does not have")

// open decrypts a value sealed under keyID.
func (s *sealer) open(keyID string, nonce, sealed, aad []byte) ([]byte, error) {
	k := s.byID[keyID]
	if k == nil {
		return nil, fmt.Errorf("%w (key ID %q)", errUnknownKey, keyID)
	}
	if len(nonce) != k.aead.NonceSize() {
		return nil, fmt.Errorf("a nonce of %d bytes under key ID %q", len(nonce), keyID)
	}
	pt, err := k.aead.Open(nil, nonce, sealed, aad)
	if err != nil {
		return nil, fmt.Errorf("it does not open under key ID %q: altered, or sealed under another key of that ID", keyID)
	}
	return pt, nil
}
