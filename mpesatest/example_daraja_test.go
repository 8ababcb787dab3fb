package mpesatest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// An STK push on the simulated Daraja gateway, and its callback received by
// a plain HTTP server of the application: Daraja posts every result to the
// URL the request names, here the client's default result URL. The
// customer's number decides how the prompt is answered.
func Example_daraja() {
	callbacks := make(chan []byte, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		callbacks <- body
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ResultCode":0,"ResultDesc":"Accepted"}`)
	}))
	defer app.Close()

	srv := mpesatest.NewServer(mpesatest.WithDaraja(mpesatest.Daraja{ResultURL: app.URL + "/daraja/stk"}))
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(), srv.Options(mpesa.GatewayDaraja)...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	var cb struct {
		Body struct {
			STK struct {
				CheckoutRequestID string
				ResultCode        int
				ResultDesc        string
				CallbackMetadata  struct {
					Item []struct {
						Name  string
						Value any
					}
				}
			} `json:"stkCallback"`
		}
	}
	for _, msisdn := range []string{mpesatest.DarajaMSISDNSuccess, mpesatest.DarajaMSISDNCancelled} {
		res, err := client.C2B(ctx, mpesa.C2BRequest{
			Amount:               "1",
			CustomerMSISDN:       msisdn,
			TransactionReference: "INV-1042",
			PurchasedItemsDesc:   "Shoes",
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.ResponseCode, res.CustomerMessage)

		cb.Body.STK.CallbackMetadata.Item = nil
		if err := json.Unmarshal(<-callbacks, &cb); err != nil {
			log.Fatal(err)
		}
		stk := cb.Body.STK
		var names []string
		for _, it := range stk.CallbackMetadata.Item {
			names = append(names, it.Name)
		}
		fmt.Println(stk.CheckoutRequestID == res.CheckoutRequestID, stk.ResultCode, stk.ResultDesc, names)

		st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: res.CheckoutRequestID})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(st.TransactionStatus)
	}
	// Output:
	// 0 Success. Request accepted for processing
	// true 0 The service request is processed successfully. [Amount MpesaReceiptNumber TransactionDate PhoneNumber]
	// Completed
	// 0 Success. Request accepted for processing
	// true 1032 Request cancelled by user []
	// Cancelled
}
