package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Headers of a signed call to the SSO or permission API.
const (
	HeaderAppKey    = "X-Wings-App-Key"
	HeaderTimestamp = "X-Wings-Timestamp" // unix seconds, decimal
	HeaderNonce     = "X-Wings-Nonce"     // 32 lower-case hex digits, fresh per call
	HeaderSignature = "X-Wings-Signature" // lower-case hex HMAC-SHA256
)

// Signature errors, as the verifying side reports them.
var (
	ErrBadSignature   = errors.New("bad signature")
	ErrStaleTimestamp = errors.New("stale timestamp")
	ErrBadNonce       = errors.New("bad or replayed nonce")
	ErrUnknownAppKey  = errors.New("unknown app key")
)

// CanonicalString is what a call signs: the method, the escaped request
// path (without query), the timestamp and the nonce, joined by "\n":
//
//	POST\n/sso/v1/session\n1700000000\n9f86d081884c7d659a2feaa0c55ad015
func CanonicalString(method, path, timestamp, nonce string) string {
	return method + "\n" + path + "\n" + timestamp + "\n" + nonce
}

// Sign returns hex(HMAC-SHA256(secret, CanonicalString(...))).
func Sign(secret []byte, method, path, timestamp, nonce string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(CanonicalString(method, path, timestamp, nonce)))
	return hex.EncodeToString(m.Sum(nil))
}

// SignRequest sets the four signing headers on r, signed at now with a
// fresh nonce.
func SignRequest(r *http.Request, appKey string, secret []byte, now time.Time) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	ts := strconv.FormatInt(now.Unix(), 10)
	r.Header.Set(HeaderAppKey, appKey)
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderNonce, nonce)
	r.Header.Set(HeaderSignature, Sign(secret, r.Method, r.URL.EscapedPath(), ts, nonce))
}

// Verify checks r's signature with secret and that its timestamp is within
// skew of now. It does not check the app key or nonce reuse; the verifying
// service does (see mocksso).
func Verify(r *http.Request, secret []byte, now time.Time, skew time.Duration) error {
	ts, nonce, sig := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderNonce), r.Header.Get(HeaderSignature)
	if !validNonce(nonce) {
		return ErrBadNonce
	}
	want := Sign(secret, r.Method, r.URL.EscapedPath(), ts, nonce)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrStaleTimestamp
	}
	if d := now.Sub(time.Unix(sec, 0)); d > skew || d < -skew {
		return ErrStaleTimestamp
	}
	return nil
}

func validNonce(n string) bool {
	if len(n) < 16 || len(n) > 64 {
		return false
	}
	_, err := hex.DecodeString(n)
	return err == nil
}
