package mpesa

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"time"
)

// How the Handler processes a parsed result: the dedup claim, the
// verification of a success, the ResultFunc, the hub and the answer.

// process runs the result through the store, the verification and the
// ResultFunc, and answers.
func (h *Handler) process(ctx context.Context, w http.ResponseWriter, res *Result, src netip.Addr) {
	bg := context.WithoutCancel(ctx) // a release or completion must happen even as the request ends
	// The result of a Daraja status query a client of the hub sent is a
	// status result, whatever its body claims: it is never verified as a
	// payment. The results of the handler's own verification queries are
	// its business and do not reach the ResultFunc (docs/gateways.md D32).
	status, internal := h.statusResult(ctx, res)
	if status {
		res.API = APITransactionStatus
	}
	key := res.dedupKey()
	success := h.verifier != nil && !status && res.OK() // a success to verify, if it names a transaction
	names := res.namesTransaction()
	if success && !names {
		// A success that names no transaction reaches the application
		// unverified. It must not use up the key of the verifiable result
		// of the same conversation: a forged one sent first would have the
		// genuine one acknowledged as its redelivery and never run.
		key += "/unverified"
	}
	claimed := h.claim(ctx, w, key, res, src)
	if claimed == "" {
		return
	}
	var held [3]string // keys to release unless the result was processed
	held[0] = key
	n := 1
	completed := false
	defer func() {
		// Runs on every exit: a return, a panic, or runtime.Goexit in the
		// ResultFunc (t.FailNow in a test), which recover cannot see.
		if completed {
			return
		}
		for _, k := range held[:n] {
			if err := h.dedup.Release(bg, k, claimed); err != nil {
				h.log(ctx, slog.LevelError, "mpesa: dedup store release failed", res, src, 0, err.Error())
			}
		}
	}()

	if success && names {
		switch v := h.verify(ctx, res); v.status {
		case http.StatusOK:
			res.Verified = true
		case http.StatusUnprocessableEntity:
			h.log(ctx, slog.LevelError, "mpesa: result contradicted by the transaction status; not processed", res, src, v.status, v.why)
			h.answer(w, v.status, res, false, descUnverified)
			return
		default:
			w.Header().Set("Retry-After", retryAfterSecs)
			h.log(ctx, slog.LevelWarn, "mpesa: result not verified yet; asking for redelivery", res, src, v.status, v.why)
			h.answer(w, v.status, res, false, descRetry)
			return
		}
		// One transaction verifies one result: a body that carries a
		// processed transaction under another conversation is a replay.
		for _, txKey := range res.txKeys() {
			switch state, err := h.dedup.Claim(ctx, txKey, claimed); {
			case err != nil:
				h.fail(ctx, w, http.StatusServiceUnavailable, res, src, "dedup store claim failed", err)
				return
			case state == ClaimDone:
				// The transaction is processed; a redelivery after its
				// result key was forgotten, or a replay: acknowledged, not
				// run.
				for _, k := range held[1:n] {
					_ = h.dedup.Release(bg, k, claimed)
				}
				h.log(ctx, slog.LevelWarn, "mpesa: transaction already processed with another result; acknowledged, not processed again", res, src, http.StatusOK, "")
				h.answer(w, http.StatusOK, res, true, ackDesc)
				completed = true
				_ = h.dedup.Complete(bg, key, claimed)
				return
			case state != ClaimAcquired:
				w.Header().Set("Retry-After", retryAfterSecs)
				h.answer(w, http.StatusServiceUnavailable, res, false, descRetry)
				return
			}
			held[n] = txKey
			n++
		}
	}

	if !internal {
		if err := h.run(ctx, res); err != nil {
			h.fail(ctx, w, http.StatusInternalServerError, res, src, "result function failed", err)
			return
		}
	}
	completed = true
	for _, k := range held[:n] {
		if err := h.dedup.Complete(bg, k, claimed); err != nil {
			// The result was processed: acknowledge it. A redelivery could
			// now run the function again; say so.
			h.log(ctx, slog.LevelError, "mpesa: dedup store complete failed; a redelivery may be processed again", res, src, 0, err.Error())
		}
	}
	if h.hub != nil {
		if err := h.hub.Deliver(bg, res); err != nil {
			h.log(ctx, slog.LevelError, "mpesa: results hub delivery failed; waiters on other replicas may miss this result", res, src, 0, err.Error())
		}
	}
	h.log(ctx, slog.LevelInfo, "mpesa: result accepted", res, src, http.StatusOK, "")
	h.answer(w, http.StatusOK, res, true, ackDesc)
}

// statusResult reports whether res answers a Daraja status query that a
// client of the handler's hub sent, and whether the handler's own
// verification sent it. A result that arrives while a status query awaits
// its acknowledgement waits for it, at most maxStatusAckWait.
func (h *Handler) statusResult(ctx context.Context, res *Result) (status, internal bool) {
	if h.hub == nil || res.Gateway != GatewayDaraja || (res.Callback != CallbackResult && res.Callback != CallbackQueueTimeout) {
		return false, false
	}
	return h.hub.statusQuery(ctx, maxStatusAckWait, res.OriginalConversationID, res.OriginatorConversationID)
}

// maxStatusAckWait bounds how long a Daraja result waits for the
// acknowledgements of the status queries in flight, in case it is the
// status of one of them that overtook its answer.
const maxStatusAckWait = 2 * time.Second

// claim claims key and returns the owner that holds it, or "" after
// answering a duplicate or a failure itself.
func (h *Handler) claim(ctx context.Context, w http.ResponseWriter, key string, res *Result, src netip.Addr) string {
	var buf [48]byte
	owner := string(strconv.AppendUint(append(buf[:0], h.ownerPrefix...), h.ownerSeq.Add(1), 10))
	state, err := h.dedup.Claim(ctx, key, owner)
	switch {
	case err != nil:
		h.fail(ctx, w, http.StatusServiceUnavailable, res, src, "dedup store claim failed", err)
	case state == ClaimDone:
		h.log(ctx, slog.LevelInfo, "mpesa: duplicate result acknowledged", res, src, http.StatusOK, "")
		h.answer(w, http.StatusOK, res, true, ackDesc)
	case state == ClaimInProgress:
		w.Header().Set("Retry-After", retryAfterSecs)
		h.log(ctx, slog.LevelInfo, "mpesa: duplicate result in progress elsewhere", res, src, http.StatusServiceUnavailable, "")
		h.answer(w, http.StatusServiceUnavailable, res, false, descRetry)
	case state == ClaimAcquired:
		return owner
	default:
		h.fail(ctx, w, http.StatusServiceUnavailable, res, src, "dedup store claim failed", fmt.Errorf("unknown claim state %d", int(state)))
	}
	return ""
}

// run calls the ResultFunc, turning a panic into an error. A panic with
// http.ErrAbortHandler is passed on, as net/http expects.
func (h *Handler) run(ctx context.Context, res *Result) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("mpesa: result function panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return h.fn(ctx, res)
}
