package mpesa

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkClientOverhead measures the client's own cost on every product
// of both iPG gateways against a hand-written net/http + encoding/json
// client of the same request, both on a stub transport that answers at once:
// validation, encoding, headers, the transport's bookkeeping and decoding,
// without the network. Compare with
//
//	go test -run - -bench ClientOverhead -count 10 | benchstat -col /impl -
//
// The target (structure issue, §3): at most 1.2× the baseline's time and
// its allocations + 8.
func BenchmarkClientOverhead(b *testing.B) {
	ctx := context.Background()
	_, pub := testKey(b)
	const ref = "asv02e5958774f7ba228d83d0d689761"
	answer := `{"output_ResponseCode":"INS-0","output_ResponseDesc":"Request processed successfully","output_TransactionID":"hv9ahxcg4ccv","output_ConversationID":"fd1e9143d22544459f7c66e1860ef276","output_ThirdPartyConversationID":"` + ref + `","output_ResponseTransactionStatus":"Completed","output_SessionID":"SeSsIoN0123456789","output_CustomerName":"J*** D***"}`
	hc := &http.Client{Transport: stubTransport{answer}}
	clients := map[Gateway]*Client{}
	for _, g := range []Gateway{GatewayOpenAPI, GatewayMozambique} {
		c, err := NewClient(testAPIKey, WithGateway(g), WithMarket(map[Gateway]Market{GatewayOpenAPI: MarketTanzania, GatewayMozambique: MarketMozambique}[g]),
			WithPublicKey(pub), WithHTTPClient(hc), WithServiceProviderCode("000000"), WithInitiator("MPesa2018", "Mpesa2019"))
		if err != nil {
			b.Fatal(err)
		}
		clients[g] = c
	}
	if _, err := clients[GatewayOpenAPI].sessionCache().get(ctx); err != nil {
		b.Fatal(err)
	}
	msisdn := map[Gateway]string{GatewayOpenAPI: "255744553111", GatewayMozambique: "258843330333"}
	refKey := map[Gateway]string{GatewayOpenAPI: "input_ThirdPartyConversationID", GatewayMozambique: "input_ThirdPartyReference"}
	market := func(g Gateway, m map[string]string) map[string]string {
		if g == GatewayOpenAPI {
			m["input_Country"] = "TZN"
			if _, ok := m["input_Amount"]; ok {
				m["input_Currency"] = "TZS"
			}
		}
		return m
	}

	type product struct {
		api  API
		call func(*Client) error
		// params are the parameters the baseline sends, as a hand-written
		// client would build them.
		params func(Gateway) map[string]string
	}
	products := []product{
		{APIC2B, func(c *Client) error {
			_, err := c.C2B(ctx, C2BRequest{Amount: "10.00", CustomerMSISDN: msisdn[c.gateway], TransactionReference: "T12344C",
				ThirdPartyConversationID: ref, PurchasedItemsDesc: "Handbag, Black shoes"})
			return err
		}, func(g Gateway) map[string]string {
			m := map[string]string{"input_Amount": "10.00", "input_CustomerMSISDN": msisdn[g], "input_ServiceProviderCode": "000000",
				"input_TransactionReference": "T12344C", refKey[g]: ref}
			if g == GatewayOpenAPI {
				m["input_PurchasedItemsDesc"] = "Handbag, Black shoes"
			}
			return market(g, m)
		}},
		{APIB2C, func(c *Client) error {
			_, err := c.B2C(ctx, B2CRequest{Amount: "10", CustomerMSISDN: msisdn[c.gateway], TransactionReference: "T12344C",
				ThirdPartyConversationID: ref, PaymentItemsDesc: "Salary payment"})
			return err
		}, func(g Gateway) map[string]string {
			m := map[string]string{"input_Amount": "10", "input_CustomerMSISDN": msisdn[g], "input_ServiceProviderCode": "000000",
				"input_TransactionReference": "T12344C", refKey[g]: ref}
			if g == GatewayOpenAPI {
				m["input_PaymentItemsDesc"] = "Salary payment"
			}
			return market(g, m)
		}},
		{APIB2B, func(c *Client) error {
			_, err := c.B2B(ctx, B2BRequest{Amount: "10", ReceiverPartyCode: "979797", TransactionReference: "T12344C",
				ThirdPartyConversationID: ref, PurchasedItemsDesc: "Shoes"})
			return err
		}, func(g Gateway) map[string]string {
			m := map[string]string{"input_Amount": "10", "input_PrimaryPartyCode": "000000", "input_ReceiverPartyCode": "979797",
				"input_TransactionReference": "T12344C", refKey[g]: ref}
			if g == GatewayOpenAPI {
				m["input_PurchasedItemsDesc"] = "Shoes"
			}
			return market(g, m)
		}},
		{APIReversal, func(c *Client) error {
			_, err := c.Reversal(ctx, ReversalRequest{TransactionID: "49XCDF6", ReversalAmount: "5", ThirdPartyConversationID: ref})
			return err
		}, func(g Gateway) map[string]string {
			m := map[string]string{"input_TransactionID": "49XCDF6", "input_ReversalAmount": "5", "input_ServiceProviderCode": "000000", refKey[g]: ref}
			if g == GatewayMozambique {
				m["input_InitiatorIdentifier"], m["input_SecurityCredential"] = "MPesa2018", "Mpesa2019"
			}
			return market(g, m)
		}},
		{APITransactionStatus, func(c *Client) error {
			_, err := c.TransactionStatus(ctx, TransactionStatusRequest{QueryReference: "5C1400CVRO", ThirdPartyConversationID: ref})
			return err
		}, func(g Gateway) map[string]string {
			return market(g, map[string]string{"input_QueryReference": "5C1400CVRO", "input_ServiceProviderCode": "000000", refKey[g]: ref})
		}},
		{APIBeneficiaryName, func(c *Client) error {
			_, err := c.BeneficiaryName(ctx, BeneficiaryNameRequest{CustomerMSISDN: msisdn[c.gateway], ThirdPartyConversationID: ref})
			return err
		}, func(g Gateway) map[string]string {
			m := map[string]string{"input_CustomerMSISDN": msisdn[g], "input_ServiceProviderCode": "000000", refKey[g]: ref}
			if g == GatewayOpenAPI {
				m["input_KycQueryType"] = "Name"
			}
			return market(g, m)
		}},
		{APIDirectDebitCreate, func(c *Client) error {
			_, err := c.DirectDebitCreate(ctx, DirectDebitCreateRequest{CustomerMSISDN: "255744553111", MandateReference: "Test123",
				ThirdPartyConversationID: ref, AgreedTC: true, Frequency: FrequencyHalfYearly, FirstPaymentDate: "20260324",
				StartRangeOfDays: "01", EndRangeOfDays: "22", ExpiryDate: "20261126"})
			return err
		}, func(g Gateway) map[string]string {
			return market(g, map[string]string{"input_AgreedTC": "1", "input_CustomerMSISDN": "255744553111", "input_EndRangeOfDays": "22",
				"input_ExpiryDate": "20261126", "input_FirstPaymentDate": "20260324", "input_Frequency": "06", "input_ServiceProviderCode": "000000",
				"input_StartRangeOfDays": "01", "input_ThirdPartyConversationID": ref, "input_ThirdPartyReference": "Test123"})
		}},
		{APIDirectDebitPayment, func(c *Client) error {
			_, err := c.DirectDebitPayment(ctx, DirectDebitPaymentRequest{CustomerMSISDN: "255744553111", MandateReference: "Test123",
				Amount: "10", ThirdPartyConversationID: ref})
			return err
		}, func(g Gateway) map[string]string {
			return market(g, map[string]string{"input_Amount": "10", "input_CustomerMSISDN": "255744553111", "input_ServiceProviderCode": "000000",
				"input_ThirdPartyConversationID": ref, "input_ThirdPartyReference": "Test123"})
		}},
		{APIDirectDebitQuery, func(c *Client) error {
			_, err := c.DirectDebitQuery(ctx, DirectDebitQueryRequest{CustomerMSISDN: "255744553111", MandateReference: "Test123",
				ThirdPartyConversationID: ref})
			return err
		}, func(g Gateway) map[string]string {
			m := market(g, map[string]string{"input_CustomerMSISDN": "255744553111", "input_QueryBalanceAmount": "False",
				"input_ServiceProviderCode": "000000", "input_ThirdPartyConversationID": ref, "input_ThirdPartyReference": "Test123"})
			m["input_Currency"] = "TZS"
			return m
		}},
		{APIDirectDebitCancel, func(c *Client) error {
			_, err := c.DirectDebitCancel(ctx, DirectDebitCancelRequest{CustomerMSISDN: "255744553111", MandateReference: "Test123",
				ThirdPartyConversationID: ref})
			return err
		}, func(g Gateway) map[string]string {
			return market(g, map[string]string{"input_CustomerMSISDN": "255744553111", "input_ServiceProviderCode": "000000",
				"input_ThirdPartyConversationID": ref, "input_ThirdPartyReference": "Test123"})
		}},
	}
	for _, g := range []Gateway{GatewayOpenAPI, GatewayMozambique} {
		c := clients[g]
		for _, p := range products {
			method, target, ok := c.d.endpoint(p.api)
			if !ok {
				continue
			}
			body := newBaselineBody(p.params(g))
			b.Run(fmt.Sprintf("gateway=%s/api=%s/impl=baseline", g, p.api), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if err := body.call(ctx, hc, method, target); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("gateway=%s/api=%s/impl=mpesa", g, p.api), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if err := p.call(c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// stubTransport answers every request at once, the way net/http's own
// transport hands over an answer: with its length declared.
type stubTransport struct{ body string }

func (t stubTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 201, Header: http.Header{"Content-Type": {"application/json"}},
		ContentLength: int64(len(t.body)), Body: io.NopCloser(strings.NewReader(t.body)), Request: r}, nil
}

// baselineBody is one request of the hand-written client: a struct of the
// request's fields marshalled with encoding/json for a POST or PUT, the
// fields as url.Values for a GET, and the answer decoded into a struct.
type baselineBody struct {
	fields []reflectField
}

type reflectField struct{ key, value string }

func newBaselineBody(m map[string]string) *baselineBody {
	b := &baselineBody{}
	for k, v := range m {
		b.fields = append(b.fields, reflectField{k, v})
	}
	return b
}

// baselineRequest is what a hand-written client would declare: every field
// it sends, tagged, omitted when empty.
type baselineRequest struct {
	AgreedTC                 string `json:"input_AgreedTC,omitempty"`
	Amount                   string `json:"input_Amount,omitempty"`
	Country                  string `json:"input_Country,omitempty"`
	Currency                 string `json:"input_Currency,omitempty"`
	CustomerMSISDN           string `json:"input_CustomerMSISDN,omitempty"`
	EndRangeOfDays           string `json:"input_EndRangeOfDays,omitempty"`
	ExpiryDate               string `json:"input_ExpiryDate,omitempty"`
	FirstPaymentDate         string `json:"input_FirstPaymentDate,omitempty"`
	Frequency                string `json:"input_Frequency,omitempty"`
	InitiatorIdentifier      string `json:"input_InitiatorIdentifier,omitempty"`
	PaymentItemsDesc         string `json:"input_PaymentItemsDesc,omitempty"`
	PrimaryPartyCode         string `json:"input_PrimaryPartyCode,omitempty"`
	PurchasedItemsDesc       string `json:"input_PurchasedItemsDesc,omitempty"`
	ReceiverPartyCode        string `json:"input_ReceiverPartyCode,omitempty"`
	ReversalAmount           string `json:"input_ReversalAmount,omitempty"`
	SecurityCredential       string `json:"input_SecurityCredential,omitempty"`
	ServiceProviderCode      string `json:"input_ServiceProviderCode,omitempty"`
	StartRangeOfDays         string `json:"input_StartRangeOfDays,omitempty"`
	ThirdPartyConversationID string `json:"input_ThirdPartyConversationID,omitempty"`
	ThirdPartyReference      string `json:"input_ThirdPartyReference,omitempty"`
	TransactionID            string `json:"input_TransactionID,omitempty"`
	TransactionReference     string `json:"input_TransactionReference,omitempty"`
}

func (b *baselineBody) request() baselineRequest {
	var r baselineRequest
	for _, f := range b.fields {
		switch f.key {
		case "input_AgreedTC":
			r.AgreedTC = f.value
		case "input_Amount":
			r.Amount = f.value
		case "input_Country":
			r.Country = f.value
		case "input_Currency":
			r.Currency = f.value
		case "input_CustomerMSISDN":
			r.CustomerMSISDN = f.value
		case "input_EndRangeOfDays":
			r.EndRangeOfDays = f.value
		case "input_ExpiryDate":
			r.ExpiryDate = f.value
		case "input_FirstPaymentDate":
			r.FirstPaymentDate = f.value
		case "input_Frequency":
			r.Frequency = f.value
		case "input_InitiatorIdentifier":
			r.InitiatorIdentifier = f.value
		case "input_PaymentItemsDesc":
			r.PaymentItemsDesc = f.value
		case "input_PrimaryPartyCode":
			r.PrimaryPartyCode = f.value
		case "input_PurchasedItemsDesc":
			r.PurchasedItemsDesc = f.value
		case "input_ReceiverPartyCode":
			r.ReceiverPartyCode = f.value
		case "input_ReversalAmount":
			r.ReversalAmount = f.value
		case "input_SecurityCredential":
			r.SecurityCredential = f.value
		case "input_ServiceProviderCode":
			r.ServiceProviderCode = f.value
		case "input_StartRangeOfDays":
			r.StartRangeOfDays = f.value
		case "input_ThirdPartyConversationID":
			r.ThirdPartyConversationID = f.value
		case "input_ThirdPartyReference":
			r.ThirdPartyReference = f.value
		case "input_TransactionID":
			r.TransactionID = f.value
		case "input_TransactionReference":
			r.TransactionReference = f.value
		}
	}
	return r
}

// baselineOutput is the answer as a hand-written client would decode it.
type baselineOutput struct {
	ResponseCode              string `json:"output_ResponseCode"`
	ResponseDesc              string `json:"output_ResponseDesc"`
	ConversationID            string `json:"output_ConversationID"`
	TransactionID             string `json:"output_TransactionID"`
	ThirdPartyConversationID  string `json:"output_ThirdPartyConversationID"`
	ResponseTransactionStatus string `json:"output_ResponseTransactionStatus"`
	CustomerName              string `json:"output_CustomerName"`
}

func (b *baselineBody) call(ctx context.Context, hc *http.Client, method, target string) error {
	var body io.Reader
	if method == http.MethodGet {
		q := make(url.Values, len(b.fields))
		for _, f := range b.fields {
			q.Set(f.key, f.value)
		}
		target += "?" + q.Encode()
	} else {
		data, err := json.Marshal(b.request())
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer x")
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
	var out baselineOutput
	if err := json.Unmarshal(data, &out); err != nil {
		return err
	}
	if out.ResponseCode != "INS-0" {
		return fmt.Errorf("code %s", out.ResponseCode)
	}
	return nil
}
