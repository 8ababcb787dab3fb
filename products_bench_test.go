package mpesa

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// cannedTransport answers every request at once without I/O, so that a
// benchmark measures only the client's own work: defaults, validation,
// encoding, headers and decoding.
type cannedTransport struct{ body string }

func (t cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 201, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(t.body)), Request: r}, nil
}

// BenchmarkProductOverhead is the cost of one product call minus the
// network. Compare it with BenchmarkCall, a loopback round trip.
func BenchmarkProductOverhead(b *testing.B) {
	_, pub := testKey(b)
	hc := &http.Client{Transport: cannedTransport{`{"output_ResponseCode":"INS-0","output_SessionID":"SeSsIoN0123456789","output_ResponseDesc":"Request processed successfully","output_TransactionID":"hv9ahxcg4ccv","output_ConversationID":"fd1e9143d22544459f7c66e1860ef276","output_ThirdPartyConversationID":"asv02e5958774f7ba228d83d0d689761","output_ResponseTransactionStatus":"Completed"}`}}
	ctx := context.Background()
	oa, err := NewClient(testAPIKey, WithMarket(MarketTanzania), WithPublicKey(pub), WithHTTPClient(hc), WithServiceProviderCode("000000"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := oa.sessionCache().get(ctx); err != nil {
		b.Fatal(err)
	}
	ref := "asv02e5958774f7ba228d83d0d689761"
	calls := map[string]func() error{
		"api=c2b": func() error {
			_, err := oa.C2B(ctx, C2BRequest{Amount: "10.00", CustomerMSISDN: "255744553111", TransactionReference: "T12344C",
				ThirdPartyConversationID: ref, PurchasedItemsDesc: "Handbag, Black shoes"})
			return err
		},
		"api=b2c": func() error {
			_, err := oa.B2C(ctx, B2CRequest{Amount: "10", CustomerMSISDN: "255744553111", TransactionReference: "T12344C",
				ThirdPartyConversationID: ref, PaymentItemsDesc: "Salary payment"})
			return err
		},
		"api=status": func() error {
			_, err := oa.TransactionStatus(ctx, TransactionStatusRequest{QueryReference: "5C1400CVRO", ThirdPartyConversationID: ref})
			return err
		},
		"api=directDebitCreate": func() error {
			_, err := oa.DirectDebitCreate(ctx, DirectDebitCreateRequest{CustomerMSISDN: "255744553111", MandateReference: "Test123",
				ThirdPartyConversationID: ref, AgreedTC: true, Frequency: FrequencyHalfYearly, FirstPaymentDate: "20260324",
				StartRangeOfDays: "01", EndRangeOfDays: "22", ExpiryDate: "20261126"})
			return err
		},
		"api=c2b-generated-ref": func() error {
			_, err := oa.C2B(ctx, C2BRequest{Amount: "10.00", CustomerMSISDN: "255744553111", TransactionReference: "T12344C",
				PurchasedItemsDesc: "Handbag, Black shoes"})
			return err
		},
	}
	calls["api=c2b-handwritten-baseline"] = func() error {
		return baselineCall(ctx, hc, "https://openapi.m-pesa.com/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage/", "Bearer x")
	}
	for _, name := range []string{"api=c2b-handwritten-baseline", "api=c2b", "api=c2b-generated-ref", "api=b2c", "api=status", "api=directDebitCreate"} {
		call := calls[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
