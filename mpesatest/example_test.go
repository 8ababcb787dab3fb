package mpesatest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// A C2B payment against the simulator, with the client configured by
// Options: no credentials, no network.
func Example() {
	srv := mpesatest.NewServer()
	defer srv.Close()

	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.C2B(context.Background(), mpesa.C2BRequest{
		Amount:                   "10.00",
		CustomerMSISDN:           mpesatest.MSISDNSuccess,
		TransactionReference:     "T12344C",
		ThirdPartyConversationID: "order1001",
		PurchasedItemsDesc:       "Handbag, Black shoes",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ResponseCode, res.ThirdPartyConversationID, len(res.TransactionID) > 0)

	// A customer who lets the PIN prompt time out.
	_, err = client.C2B(context.Background(), mpesa.C2BRequest{
		Amount:               "10.00",
		CustomerMSISDN:       mpesatest.MSISDNPromptTimeout,
		TransactionReference: "T12345C",
		PurchasedItemsDesc:   "Shoes",
	})
	var e *mpesa.Error
	if errors.As(err, &e) {
		fmt.Println(e.HTTPStatus, e.Code, errors.Is(err, mpesa.ErrPromptTimeout))
	}

	st, err := client.TransactionStatus(context.Background(), mpesa.TransactionStatusRequest{QueryReference: "order1001"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.TransactionStatus, st.Reversed)
	// Output:
	// INS-0 order1001 true
	// 408 INS-9 true
	// Completed false
}

// Scenarios make the next calls of an API answer otherwise: here the
// gateway is overloaded once (503 INS-16, which says the payment was not
// processed, so the client sends it again), then a payment hangs after the
// gateway processed it, which the client reports as an unknown outcome and
// Reconcile resolves.
func ExampleScenario() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(), append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania),
		mpesa.WithReconcileBackoff(time.Millisecond, time.Millisecond))...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	pay := mpesa.C2BRequest{Amount: "10", CustomerMSISDN: mpesatest.MSISDNSuccess, TransactionReference: "T1", PurchasedItemsDesc: "Shoes"}

	srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "INS-16"})
	res, err := client.C2B(ctx, pay)
	fmt.Println(err == nil, len(srv.CallsTo(mpesa.APIC2B)), res.ResponseCode)

	srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultHang, Processed: true})
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = client.C2B(short, pay)
	cancel()
	var e *mpesa.Error
	if errors.Is(err, mpesa.ErrOutcomeUnknown) && errors.As(err, &e) {
		st, err := client.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: e.ThirdPartyConversationID})
		fmt.Println("outcome unknown; reconciled:", st.TransactionStatus, err)
	}
	// Output:
	// true 2 INS-0
	// outcome unknown; reconciled: Completed <nil>
}

// In asynchronous mode the payments answer at once and their results come
// by callback to the Response URL: here a handler on a local server.
func ExampleWithAsync() {
	results := make(chan *mpesa.Result, 1)
	handler, err := mpesa.NewHandler(func(_ context.Context, res *mpesa.Result) error {
		results <- res
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	listener := httptest.NewServer(handler)
	defer listener.Close()

	srv := mpesatest.NewServer(mpesatest.WithAsync(mpesatest.Async{URL: listener.URL}))
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(), append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.C2B(context.Background(), mpesa.C2BRequest{Amount: "10", CustomerMSISDN: mpesatest.MSISDNSuccess,
		TransactionReference: "T1", PurchasedItemsDesc: "Shoes", ThirdPartyConversationID: "order7"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("async:", res.Async())
	result := <-results
	fmt.Println(result.ThirdPartyConversationID, result.OK(), result.OriginalConversationID == res.ConversationID)
	// Output:
	// async: true
	// order7 true true
}
