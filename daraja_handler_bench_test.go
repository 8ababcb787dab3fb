package mpesa

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// The yardstick of BenchmarkDarajaCallback: what a careful hand-written
// Daraja listener decodes and answers, with net/http and encoding/json.
// Codes and values are json.RawMessage, since Daraja sends them as numbers
// or strings.
type (
	baselineDarajaItem struct {
		Key   string          `json:"Key"`
		Name  string          `json:"Name"`
		Value json.RawMessage `json:"Value"`
	}
	baselineDarajaCallback struct {
		Body struct {
			STK struct {
				MerchantRequestID string          `json:"MerchantRequestID"`
				CheckoutRequestID string          `json:"CheckoutRequestID"`
				ResultCode        json.RawMessage `json:"ResultCode"`
				ResultDesc        string          `json:"ResultDesc"`
				CallbackMetadata  struct {
					Item []baselineDarajaItem `json:"Item"`
				} `json:"CallbackMetadata"`
			} `json:"stkCallback"`
		} `json:"Body"`
		Result struct {
			ResultType               json.RawMessage `json:"ResultType"`
			ResultCode               json.RawMessage `json:"ResultCode"`
			ResultDesc               string          `json:"ResultDesc"`
			OriginatorConversationID string          `json:"OriginatorConversationID"`
			ConversationID           string          `json:"ConversationID"`
			TransactionID            string          `json:"TransactionID"`
			ResultParameters         struct {
				ResultParameter []baselineDarajaItem `json:"ResultParameter"`
			} `json:"ResultParameters"`
			ReferenceData struct {
				ReferenceItem json.RawMessage `json:"ReferenceItem"`
			} `json:"ReferenceData"`
		} `json:"Result"`
	}
	baselineDarajaAck struct {
		ResultCode int    `json:"ResultCode"`
		ResultDesc string `json:"ResultDesc"`
	}
)

// baselineDarajaListener is a minimal decode-and-acknowledge Daraja
// handler: POST only, a capped body, a struct decode, an ID check, the
// user's function, a marshalled acknowledgement.
func baselineDarajaListener(fn func(*baselineDarajaCallback) error) http.HandlerFunc {
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
		var cb baselineDarajaCallback
		if err := json.Unmarshal(body, &cb); err != nil ||
			(cb.Body.STK.CheckoutRequestID == "" && cb.Result.ConversationID == "" && cb.Result.OriginatorConversationID == "") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := fn(&cb); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		ack, err := json.Marshal(baselineDarajaAck{0, "Accepted"})
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(ack)
	}
}

// The Daraja bodies of the benchmark, the portal's samples; the twelve
// zeros are replaced by a counter, so that every iteration delivers a new
// result and the handler does its full work (deduplication included).
const (
	benchSTKCallback = `{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220000000000000",` +
		`"ResultCode":0,"ResultDesc":"The service request is processed successfully.","CallbackMetadata":{"Item":[` +
		`{"Name":"Amount","Value":1.00},{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},` +
		`{"Name":"TransactionDate","Value":20191219102115},{"Name":"PhoneNumber","Value":254708374149}]}}}}`
	benchB2CResult = `{"Result":{"ResultType":0,"ResultCode":0,"ResultDesc":"The service request is processed successfully.",` +
		`"OriginatorConversationID":"53e3-4aa8-9fe0-000000000000","ConversationID":"AG_20240706_2010364430d9bbdaf872",` +
		`"TransactionID":"SG632NMUAB","ResultParameters":{"ResultParameter":[{"Key":"TransactionAmount","Value":10},` +
		`{"Key":"TransactionReceipt","Value":"SG632NMUAB"},{"Key":"ReceiverPartyPublicName","Value":"254705912645 - NICHOLAS JOHN SONGOK"},` +
		`{"Key":"TransactionCompletedDateTime","Value":"06.07.2024 22:48:52"},{"Key":"B2CUtilityAccountAvailableFunds","Value":8959269.60},` +
		`{"Key":"B2CWorkingAccountAvailableFunds","Value":1199371.00},{"Key":"B2CRecipientIsRegisteredCustomer","Value":"Y"},` +
		`{"Key":"B2CChargesPaidAccountAvailableFunds","Value":-1980.00}]},"ReferenceData":{"ReferenceItem":` +
		`{"Key":"QueueTimeoutURL","Value":"https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"}}}}`
)

// BenchmarkDarajaCallback measures one Daraja callback through Handler
// (HandlerGateway GatewayDaraja, MemoryDedup, no logger), and through a
// Handler that infers the gateway from each body, against
// baselineDarajaListener in the same run. Compare with benchstat -col /impl.
func BenchmarkDarajaCallback(b *testing.B) {
	fixed, err := NewHandler(func(context.Context, *Result) error { return nil }, HandlerGateway(GatewayDaraja))
	if err != nil {
		b.Fatal(err)
	}
	inferred, err := NewHandler(func(context.Context, *Result) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	impls := []struct {
		name string
		h    http.Handler
	}{
		{"baseline", baselineDarajaListener(func(*baselineDarajaCallback) error { return nil })},
		{"handler", fixed},
		{"inferred", inferred},
	}
	for _, shape := range []struct{ name, body string }{{"stk", benchSTKCallback}, {"b2c", benchB2CResult}} {
		for _, impl := range impls {
			b.Run("shape="+shape.name+"/impl="+impl.name, func(b *testing.B) {
				benchPosts(b, impl.h, "http://listener.example/daraja/result", "196.201.214.200:40123", shape.body)
			})
		}
	}
}
