package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpesa-go/mpesa"
)

// cannedGateway is an http.RoundTripper that answers getSession and every
// payment at once, without a network: what a steady-state call costs the
// client itself, so that a store round trip would show.
type cannedGateway struct{}

const cannedPayment = `{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_TransactionID":"hv9ahxcg4ccv","output_ConversationID":"fd1e9143d22544459f7c66e1860ef276","output_ThirdPartyConversationID":"asv02e5958774f7ba228d83d0d689761"}`

func (cannedGateway) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	status, body := 201, cannedPayment
	if strings.HasSuffix(r.URL.Path, "/getSession/") {
		status, body = 200, `{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_SessionID":"SeSsIoN0123456789abcdef"}`
	}
	return &http.Response{StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(strings.NewReader(body)),
		Request: r, ContentLength: int64(len(body))}, nil
}

var (
	benchKeyOnce sync.Once
	benchPub     string
)

// benchPublicKey is a 2048-bit RSA public key, as the portals show keys.
func benchPublicKey(b *testing.B) string {
	benchKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			panic(err)
		}
		benchPub = base64.StdEncoding.EncodeToString(der)
	})
	return benchPub
}

// BenchmarkSteadyStateCall compares one C2B call at steady state through a
// client with the Redis CredentialStore and through one with the in-memory
// default: the store is not touched, so the two should match. Compare with
//
//	REDIS_URL=… go test -run - -bench SteadyStateCall -count 10 | benchstat -col /store -
func BenchmarkSteadyStateCall(b *testing.B) {
	ctx := context.Background()
	req := mpesa.C2BRequest{Amount: "10", CustomerMSISDN: "255744553111", TransactionReference: "T12344C",
		ThirdPartyConversationID: "asv02e5958774f7ba228d83d0d689761", PurchasedItemsDesc: "Handbag, Black shoes"}
	for _, store := range []string{"memory", "redis"} {
		b.Run("store="+store, func(b *testing.B) {
			opts := []mpesa.Option{mpesa.WithMarket(mpesa.MarketTanzania), mpesa.WithPublicKey(benchPublicKey(b)),
				mpesa.WithHTTPClient(&http.Client{Transport: cannedGateway{}}), mpesa.WithServiceProviderCode("000000")}
			var counter *commandCounter
			if store == "redis" {
				rdb := newRedis(b)
				counter = &commandCounter{}
				rdb.AddHook(counter)
				opts = append(opts, mpesa.WithCredentialStore(newStore(b, rdb, testPrefix(b, rdb)).Credentials()))
			}
			c, err := mpesa.NewClient("0123456789abcdef0123456789abcdef", opts...)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.C2B(ctx, req); err != nil { // the session
				b.Fatal(err)
			}
			var before int64
			if counter != nil {
				before = counter.n.Load()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.C2B(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if counter != nil && counter.n.Load() != before {
				b.Fatalf("%d Redis commands at steady state", counter.n.Load()-before)
			}
		})
	}
}

// benchCallbackBody is an OpenAPI C2B callback whose conversation ID ends
// in a counter, so that every iteration delivers a new result.
const benchCallbackBody = `{"input_OriginalConversationID":"fd1e9143d22544459f7c000000000000","input_TransactionID":"hv9ahxcg4ccv","input_ResultCode":"INS-0","input_ResultDesc":"Request processed successfully","input_ThirdPartyConversationID":"1e9b774d1da34af78412a498cbc28f5e"}`

type benchWriter struct {
	hdr    http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.hdr }
func (w *benchWriter) WriteHeader(s int)           { w.status = s }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }

type benchBody struct{ bytes.Reader }

func (*benchBody) Close() error { return nil }

// BenchmarkCallback measures one new callback through a Handler with the
// Redis de-duplication (a claim and a completion, two round trips) against
// the in-memory default, and reports the latency's median and 99th
// percentile in microseconds.
func BenchmarkCallback(b *testing.B) {
	for _, dedup := range []string{"memory", "redis"} {
		b.Run("dedup="+dedup, func(b *testing.B) {
			var opts []mpesa.HandlerOption
			if dedup == "redis" {
				rdb := newRedis(b)
				s := newStore(b, rdb, testPrefix(b, rdb), WithDedupRetention(time.Minute))
				opts = append(opts, mpesa.Deduplicate(s.Dedup()))
			}
			h, err := mpesa.NewHandler(func(context.Context, *mpesa.Result) error { return nil }, opts...)
			if err != nil {
				b.Fatal(err)
			}
			body := []byte(benchCallbackBody)
			slot := bytes.Index(body, []byte("000000000000"))
			req, err := http.NewRequest(http.MethodPost, "http://listener.example/mpesa/results", nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = "192.0.2.10:40123"
			req.ContentLength = int64(len(body))
			rb := new(benchBody)
			w := &benchWriter{hdr: http.Header{}}
			took := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n := uint64(i) + uint64(time.Now().UnixNano()%1e6)*1e6
				for j := slot + 11; j >= slot; j-- {
					body[j] = byte('0' + n%10)
					n /= 10
				}
				rb.Reset(body)
				req.Body = rb
				clear(w.hdr)
				start := time.Now()
				h.ServeHTTP(w, req)
				took = append(took, time.Since(start))
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}
