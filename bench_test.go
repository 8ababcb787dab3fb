package mpesa

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

const benchAnswer = `{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_TransactionID":"hv9ahxcg4ccv","output_ConversationID":"fd1e9143d22544459f7c66e1860ef276","output_ThirdPartyConversationID":"asv02e5958774f7ba228d83d0d689761"}`

func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == basePath+"/sandbox/ipg/v2/vodacomTZN/getSession/" {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"output_ResponseCode":"INS-0","output_SessionID":"SeSsIoN0123456789"}`)
			return
		}
		w.WriteHeader(201)
		_, _ = io.WriteString(w, benchAnswer)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// baselineC2B is what a careful hand-written integration does for one C2B
// call with net/http and encoding/json: the yardstick of BenchmarkCall.
type baselineC2B struct {
	Amount              string `json:"input_Amount"`
	Country             string `json:"input_Country"`
	Currency            string `json:"input_Currency"`
	CustomerMSISDN      string `json:"input_CustomerMSISDN"`
	PurchasedItemsDesc  string `json:"input_PurchasedItemsDesc"`
	ServiceProviderCode string `json:"input_ServiceProviderCode"`
	ThirdPartyConvID    string `json:"input_ThirdPartyConversationID"`
	TransactionRef      string `json:"input_TransactionReference"`
}

type baselineAnswer struct {
	ResponseCode     string `json:"output_ResponseCode"`
	ResponseDesc     string `json:"output_ResponseDesc"`
	TransactionID    string `json:"output_TransactionID"`
	ConversationID   string `json:"output_ConversationID"`
	ThirdPartyConvID string `json:"output_ThirdPartyConversationID"`
}

func baselineCall(ctx context.Context, hc *http.Client, url, bearer string) error {
	body, err := json.Marshal(baselineC2B{"10", "TZN", "TZS", "255744553111", "Handbag, Black shoes", "000000", "asv02e5958774f7ba228d83d0d689761", "T12344C"})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", bearer)
	req.Header.Set("Origin", "*")
	req.Header.Set("User-Agent", "bench/1")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var a baselineAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	if a.ResponseCode != "INS-0" {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// BenchmarkCall compares one steady-state C2B call of the client with the
// hand-written baseline against the same loopback server. Compare with
//
//	go test -run - -bench Call -count 10 | benchstat -col /impl -
func BenchmarkCall(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	b.Run("impl=baseline", func(b *testing.B) {
		hc := srv.Client()
		url := srv.URL + basePath + openAPIPath("c2bPayment/singleStage/")
		bearer := "Bearer " + string(bytes.Repeat([]byte("A"), 684))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := baselineCall(ctx, hc, url, bearer); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=mpesa", func(b *testing.B) {
		_, pub := testKey(b)
		c, err := NewClient(testAPIKey, WithMarket(MarketTanzania), WithPublicKey(pub),
			WithBaseURL(srv.URL+basePath), WithHTTPClient(srv.Client()))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.do(ctx, APIC2B, c2bParams, "r"); err != nil { // warm the session
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := c.do(ctx, APIC2B, c2bParams, "asv02e5958774f7ba228d83d0d689761"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkColdStart measures a new client taking 100 concurrent calls:
// one getSession, one RSA encryption of the key and one of the session.
func BenchmarkColdStart(b *testing.B) {
	srv := benchServer(b)
	_, pub := testKey(b)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c, err := NewClient(testAPIKey, WithMarket(MarketTanzania), WithPublicKey(pub),
			WithBaseURL(srv.URL+basePath), WithHTTPClient(srv.Client()))
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for j := 0; j < 100; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.do(ctx, APIC2B, c2bParams, "r"); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
}

// BenchmarkBearer is the RSA cost the session cache saves on every call.
func BenchmarkBearer(b *testing.B) {
	portal, err := ParsePublicKey(OpenAPISandboxPublicKey)
	if err != nil {
		b.Fatal(err)
	}
	priv, _ := testKey(b)
	for _, k := range []struct {
		name string
		pub  *rsa.PublicKey
	}{{"bits=4096", portal}, {"bits=2048", &priv.PublicKey}} {
		b.Run(k.name, func(b *testing.B) {
			pub := k.pub
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := encryptBearer(pub, "SeSsIoN0123456789abcdef"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSessionGet is the per-call cost of the session cache at steady
// state, with all cores asking at once.
func BenchmarkSessionGet(b *testing.B) {
	srv := benchServer(b)
	_, pub := testKey(b)
	c, err := NewClient(testAPIKey, WithMarket(MarketTanzania), WithPublicKey(pub),
		WithBaseURL(srv.URL+basePath), WithHTTPClient(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.sessionCache().get(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.sessionCache().get(ctx); err != nil {
				b.Error(err)
			}
		}
	})
}
