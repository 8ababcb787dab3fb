package mpesa

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// baselineCallback and baselineAck are what a careful hand-written listener
// decodes and answers: the yardstick of BenchmarkCallback.
type baselineCallback struct {
	OriginalConversationID   string `json:"input_OriginalConversationID"`
	TransactionID            string `json:"input_TransactionID"`
	ResultCode               string `json:"input_ResultCode"`
	ResultDesc               string `json:"input_ResultDesc"`
	ThirdPartyConversationID string `json:"input_ThirdPartyConversationID"`
}

type baselineAck struct {
	OriginalConversationID   string `json:"output_OriginalConversationID"`
	ResponseCode             string `json:"output_ResponseCode"`
	ResponseDesc             string `json:"output_ResponseDesc"`
	ThirdPartyConversationID string `json:"output_ThirdPartyConversationID"`
}

// baselineListener is a minimal hand-written decode-and-acknowledge handler
// with net/http and encoding/json: POST only, a capped body, a struct
// decode, the user's function, a marshalled acknowledgement.
func baselineListener(fn func(*baselineCallback) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, DefaultMaxCallbackBytes))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var cb baselineCallback
		if err := json.Unmarshal(body, &cb); err != nil || cb.OriginalConversationID == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := fn(&cb); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		ack, err := json.Marshal(baselineAck{cb.OriginalConversationID, "0", "Successfully Accepted Result", cb.ThirdPartyConversationID})
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(ack)
	}
}

// benchWriter is a reusable http.ResponseWriter that keeps the status and
// the length of the answer.
type benchWriter struct {
	hdr    http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header { return w.hdr }
func (w *benchWriter) WriteHeader(s int)   { w.status = s }
func (w *benchWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

func (w *benchWriter) reset() {
	clear(w.hdr)
	w.status, w.n = 0, 0
}

// benchBody is a reusable request body.
type benchBody struct{ bytes.Reader }

func (*benchBody) Close() error { return nil }

// benchCallback is the OpenAPI C2B callback of the documents; the last 12
// characters of its conversation ID are replaced by a counter, so that every
// iteration delivers a new result and the handler does its full work.
const benchCallback = `{"input_OriginalConversationID":"fd1e9143d22544459f7c000000000000","input_TransactionID":"hv9ahxcg4ccv","input_ResultCode":"INS-0","input_ResultDesc":"Request processed successfully","input_ThirdPartyConversationID":"1e9b774d1da34af78412a498cbc28f5e"}`

// BenchmarkCallback measures the cost of one callback through Handler with
// its defaults (MemoryDedup, no logger), against baselineListener in the
// same run. Compare with benchstat -col /impl.
func BenchmarkCallback(b *testing.B) {
	handler, err := NewHandler(func(context.Context, *Result) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	impls := []struct {
		name string
		h    http.Handler
	}{
		{"baseline", baselineListener(func(*baselineCallback) error { return nil })},
		{"handler", handler},
	}
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			benchPosts(b, impl.h, "http://listener.example/mpesa/results", "192.0.2.10:40123", benchCallback)
		})
	}
}

// benchPosts posts body to h b.N times, each time with a new 12-digit
// counter in place of the body's first "000000000000", so that every
// delivery is a new result, and requires a 200 with a body.
func benchPosts(b *testing.B, h http.Handler, url, remoteAddr, callback string) {
	body := []byte(callback)
	slot := bytes.Index(body, []byte("000000000000"))
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = remoteAddr
	req.ContentLength = int64(len(body))
	rb := new(benchBody)
	w := &benchWriter{hdr: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := uint64(i)
		for j := slot + 11; j >= slot; j-- {
			body[j] = byte('0' + n%10)
			n /= 10
		}
		rb.Reset(body)
		req.Body = rb
		w.reset()
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK || w.n == 0 {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
}
