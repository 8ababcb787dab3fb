package mpesatest_test

import (
	"context"
	"errors"
	"fmt"
	"log"

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
