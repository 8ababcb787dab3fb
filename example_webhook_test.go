package mpesa_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/mpesa-go/mpesa"
)

// The handler of the Response URL: mounted below a secret token, it parses
// each result, runs the function once per result, feeds a Results hub and
// acknowledges. Here the gateway is played by an HTTP POST of the Mozambique
// document's callback.
func ExampleNewHandler() {
	hub := mpesa.NewResults(0, 0)
	handler, err := mpesa.NewHandler(
		func(ctx context.Context, res *mpesa.Result) error {
			// Store the result here. Return an error if that fails: the
			// gateway is then asked to deliver it again.
			fmt.Println("processing", res.OriginalConversationID, "ok:", res.OK())
			return nil
		},
		// The Response URL on the portal is https://<host>/mpesa/results/<token>.
		mpesa.RequireToken("d41d8cd98f00b204e980"),
		mpesa.FeedResults(hub),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/mpesa/results/", handler)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	callback := `{
		"input_OriginalConversationID": "241fasif1f1n92fn129nfasnf91nf1",
		"input_ThirdPartyReference": "11114",
		"input_TransactionID": "4XDF12345",
		"input_ResultCode": "0",
		"input_ResultDesc": "Request Processed Successfully"
	}`
	resp, err := http.Post(srv.URL+"/mpesa/results/d41d8cd98f00b204e980", "application/json", strings.NewReader(callback))
	if err != nil {
		fmt.Println(err)
		return
	}
	ack, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	fmt.Println(string(ack))

	// The code that started the payment waits for its result by its
	// reference (or by the ConversationID the call returned).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := hub.Await(ctx, "11114")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res)
	// Output:
	// processing 241fasif1f1n92fn129nfasnf91nf1 ok: true
	// 200 application/json
	// {"output_OriginalConversationID":"241fasif1f1n92fn129nfasnf91nf1","output_ResponseCode":"0","output_ResponseDesc":"Successfully Accepted Result","output_ThirdPartyConversationID":"11114"}
	// mpesa.Result{gateway: mozambique-v1x, OriginalConversationID: 241fasif1f1n92fn129nfasnf91nf1, TransactionID: 4XDF12345, ThirdPartyConversationID: 11114, ResultCode: 0, ResultDesc: Request Processed Successfully}
}

// A failed result matches the same sentinel errors as a synchronous call
// that failed with the same code.
func ExampleResult_Err() {
	res, err := mpesa.ParseResult([]byte(`{
		"input_OriginalConversationID": "0b3c2f5e8a1d4c7b9e6f2a4d8c1b3e5f",
		"input_ThirdPartyConversationID": "asv02e5958774f7ba228d83d0d689761",
		"input_ResultCode": "INS-2006",
		"input_ResultDesc": "Insufficient balance"
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = res.Err()
	var e *mpesa.Error
	switch {
	case errors.Is(err, mpesa.ErrInsufficientBalance):
		fmt.Println("ask the customer to top up;", res.ThirdPartyConversationID)
	case errors.As(err, &e):
		fmt.Println("failed:", e.Code, e.Description)
	}
	// Output:
	// ask the customer to top up; asv02e5958774f7ba228d83d0d689761
}
