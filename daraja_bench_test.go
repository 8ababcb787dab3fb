package mpesa

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkDarajaCall compares a steady-state Daraja call of the client
// with what a careful hand-written integration does with net/http and
// encoding/json for the same request, against the same loopback server:
//
//	go test -run - -bench DarajaCall -count 10 | benchstat -col /impl -
//
// The baseline builds the STK Password and Timestamp per call too, and
// holds a token and a SecurityCredential computed once, as the client does.
func BenchmarkDarajaCall(b *testing.B) {
	srv := darajaBenchServer(b)
	benchDaraja(b, srv.URL, srv.Client())
}

// BenchmarkDarajaOverhead is BenchmarkDarajaCall without the network: a
// transport that answers at once (the STK acknowledgement for both, which
// both read as success), so that only the work of each side is measured.
//
//	go test -run - -bench DarajaOverhead -count 10 | benchstat -col /impl -
func BenchmarkDarajaOverhead(b *testing.B) {
	ack := `{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925","ResponseCode":"0","ResponseDescription":"Success. Request accepted for processing","CustomerMessage":"Success. Request accepted for processing"}`
	mux := http.NewServeMux()
	mux.HandleFunc(darajaPaths[APIToken], func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"access_token":"SGWcJPtNtYNPGm6uSYR9yPYrAI3Bm","expires_in":"3599"}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, ack)
	})
	benchDaraja(b, "https://daraja.test", &http.Client{Transport: handlerTransport{mux}})
}

// handlerTransport serves requests with a handler, in the caller's
// goroutine.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return handlerResponder(t.h)(r)
}

func benchDaraja(b *testing.B, base string, hc *http.Client) {
	ctx := context.Background()
	const token = "SGWcJPtNtYNPGm6uSYR9yPYrAI3Bm"
	cred := strings.Repeat("A", 344) // a base64 RSA-2048 block
	for _, api := range []string{"c2b", "b2c"} {
		b.Run("api="+api+"/impl=baseline", func(b *testing.B) {
			call := func() error { return baselineSTKPush(ctx, hc, base+darajaPaths[APIC2B], token) }
			if api == "b2c" {
				call = func() error { return baselineB2C(ctx, hc, base+darajaPaths[APIB2C], token, cred) }
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("api="+api+"/impl=mpesa", func(b *testing.B) {
			_, cert := testCertificate(b)
			c, err := NewClient(testConsumerKey, WithGateway(GatewayDaraja), WithConsumerSecret(testConsumerSecret),
				WithBaseURL(base), WithHTTPClient(hc), WithServiceProviderCode(testShortcode), WithPasskey(testPasskey),
				WithInitiator(testInitiator, testInitiatorPassword), WithCertificate(cert), WithResultURL(testResultURL),
				WithQueueTimeoutURL(testTimeoutURL))
			if err != nil {
				b.Fatal(err)
			}
			call := func() error {
				_, err := c.C2B(ctx, C2BRequest{Amount: "1", CustomerMSISDN: testKenyaMSISDN, TransactionReference: "CompanyXLTD",
					PurchasedItemsDesc: "Payment of X", ThirdPartyConversationID: "ORDER2231"})
				return err
			}
			if api == "b2c" {
				call = func() error {
					_, err := c.B2C(ctx, B2CRequest{Amount: "10", CustomerMSISDN: testKenyaMSISDN, PaymentItemsDesc: "Test remarks",
						ThirdPartyConversationID: "feb5e3f2-fbbc-4745-844c-ee37b546f627"})
					return err
				}
			}
			if err := call(); err != nil { // warm the token
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// darajaBenchServer answers the token and the two products' documented
// acknowledgements.
func darajaBenchServer(b *testing.B) *httptest.Server {
	b.Helper()
	stk := `{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925","ResponseCode":"0","ResponseDescription":"Success. Request accepted for processing","CustomerMessage":"Success. Request accepted for processing"}`
	b2c := `{"ConversationID":"AG_20191219_00005797af5d7d75f652","OriginatorConversationID":"feb5e3f2-fbbc-4745-844c-ee37b546f627","ResponseCode":"0","ResponseDescription":"Accept the service request successfully."}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case darajaPaths[APIToken]:
			_, _ = io.WriteString(w, `{"access_token":"SGWcJPtNtYNPGm6uSYR9yPYrAI3Bm","expires_in":"3599"}`)
		case darajaPaths[APIC2B]:
			_, _ = io.WriteString(w, stk)
		default:
			_, _ = io.WriteString(w, b2c)
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

type baselineSTKRequest struct {
	BusinessShortCode string
	Password          string
	Timestamp         string
	TransactionType   string
	Amount            string
	PartyA            string
	PartyB            string
	PhoneNumber       string
	CallBackURL       string
	AccountReference  string
	TransactionDesc   string
}

type baselineB2CRequest struct {
	OriginatorConversationID string
	InitiatorName            string
	SecurityCredential       string
	CommandID                string
	Amount                   string
	PartyA                   string
	PartyB                   string
	Remarks                  string
	QueueTimeOutURL          string
	ResultURL                string
}

type baselineDarajaAnswer struct {
	MerchantRequestID        string
	CheckoutRequestID        string
	ConversationID           string
	OriginatorConversationID string
	ResponseCode             string
	ResponseDescription      string
	CustomerMessage          string
}

var benchEAT = time.FixedZone("EAT", 3*60*60)

func baselineSTKPush(ctx context.Context, hc *http.Client, url, token string) error {
	ts := time.Now().In(benchEAT).Format("20060102150405")
	return baselinePost(ctx, hc, url, token, baselineSTKRequest{
		BusinessShortCode: testShortcode, Password: base64.StdEncoding.EncodeToString([]byte(testShortcode + testPasskey + ts)),
		Timestamp: ts, TransactionType: "CustomerPayBillOnline", Amount: "1", PartyA: testKenyaMSISDN, PartyB: testShortcode,
		PhoneNumber: testKenyaMSISDN, CallBackURL: testResultURL, AccountReference: "CompanyXLTD", TransactionDesc: "Payment of X"})
}

func baselineB2C(ctx context.Context, hc *http.Client, url, token, cred string) error {
	return baselinePost(ctx, hc, url, token, baselineB2CRequest{
		OriginatorConversationID: "feb5e3f2-fbbc-4745-844c-ee37b546f627", InitiatorName: testInitiator, SecurityCredential: cred,
		CommandID: "BusinessPayment", Amount: "10", PartyA: testShortcode, PartyB: testKenyaMSISDN, Remarks: "Test remarks",
		QueueTimeOutURL: testTimeoutURL, ResultURL: testResultURL})
}

func baselinePost(ctx context.Context, hc *http.Client, url, token string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
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
	var a baselineDarajaAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	if a.ResponseCode != "0" {
		return errors.New("refused: " + a.ResponseDescription)
	}
	return nil
}
