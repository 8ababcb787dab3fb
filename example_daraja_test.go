package mpesa_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mpesa-go/mpesa"
)

// The examples of the Daraja gateway (Safaricom, Kenya) run against a
// loopback server that answers as the Daraja portal documents; the Daraja
// simulator of package mpesatest comes with the callbacks.

// darajaSandbox starts a server that plays Daraja just enough for the
// examples, and returns the options that aim a client at it. In
// production the client needs none of WithBaseURL and WithHTTPClient.
func darajaSandbox() (*httptest.Server, []mpesa.Option) {
	var stkQueries atomic.Int32
	answer := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	ack := map[string]string{"ConversationID": "AG_20191219_00005797af5d7d75f652", "OriginatorConversationID": "16740-34861180-1",
		"ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req map[string]string
		_ = json.Unmarshal(body, &req)
		switch p := r.URL.Path; {
		case p == "/oauth/v1/generate":
			answer(w, 200, map[string]string{"access_token": "SGWcJPtNtYNPGm6uSYR9yPYrAI3Bm", "expires_in": "3599"})
		case p == "/mpesa/stkpush/v1/processrequest":
			answer(w, 200, map[string]string{"MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_191220191020363925",
				"ResponseCode": "0", "ResponseDescription": "Success. Request accepted for processing",
				"CustomerMessage": "Success. Request accepted for processing"})
		case p == "/mpesa/stkpushquery/v1/query":
			if stkQueries.Add(1) == 1 { // the customer is still typing the PIN
				answer(w, 500, map[string]string{"requestId": "8773-65037085-1", "errorCode": "500.001.1001",
					"errorMessage": "The transaction is being processed"})
				return
			}
			answer(w, 200, map[string]string{"ResponseCode": "0", "ResponseDescription": "The service request has been accepted successfully",
				"MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": req["CheckoutRequestID"], "ResultCode": "0",
				"ResultDesc": "The service request is processed successfully."})
		case strings.HasSuffix(p, "/registerurl"):
			if req["ShortCode"] == "600000" {
				answer(w, 500, map[string]string{"requestId": "11728-2929992-1", "errorCode": "500.003.1001",
					"errorMessage": "Urls are already registered"})
				return
			}
			answer(w, 200, map[string]string{"OriginatorCoversationID": "7619-37765134-1", "ResponseCode": "0", "ResponseDescription": "success"})
		case strings.HasSuffix(p, "/simulate"):
			answer(w, 200, map[string]string{"OriginatorCoversationID": "53e3-4aa8-9fe0-8fb5e4092cdd3405976", "ResponseCode": "0",
				"ResponseDescription": "Accept the service request successfully."})
		case p == "/pulltransactions/v1/register":
			answer(w, 200, map[string]string{"ResponseRefID": "18633-7271215-1", "ResponseStatus": "1000", "ShortCode": req["ShortCode"],
				"ResponseDescription": "Shortcode Registered Successfully"})
		case p == "/pulltransactions/v1/query":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ResponseRefID":"26178-42530161-2","ResponseCode":"1000","ResponseMessage":"Success","Response":[[`+
				`{"transactionId":"yzlyrEsRG1","trxDate":"2020-08-05T10:13:00Z","msisdn":254722000000,"sender":"UAT2","transactiontype":"c2b-pay-bill-debit","billreference":"37207636392","amount":"168.00","organizationname":"Daraja Pull API Test"}]]}`)
		case p == "/mpesa/b2c/v3/paymentrequest":
			a := map[string]string{}
			for k, v := range ack {
				a[k] = v
			}
			a["OriginatorConversationID"] = req["OriginatorConversationID"]
			answer(w, 200, a)
		default:
			answer(w, 200, ack)
		}
	}))
	return srv, []mpesa.Option{
		mpesa.WithGateway(mpesa.GatewayDaraja),
		mpesa.WithConsumerSecret("consumer-secret"),
		mpesa.WithServiceProviderCode("174379"),
		mpesa.WithPasskey("bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"),
		mpesa.WithInitiator("testapi", "Safaricom999!*!"),
		mpesa.WithResultURL("https://example.com/daraja/result"),
		mpesa.WithQueueTimeoutURL("https://example.com/daraja/timeout"),
		mpesa.WithBaseURL(srv.URL),
		mpesa.WithHTTPClient(srv.Client()),
	}
}

// A client of Safaricom's Daraja gateway for Kenya. The consumer key and
// secret are the Daraja app's; the passkey signs STK pushes; the initiator
// acts for B2C, B2B, reversal, status and balance; results come to the
// URLs.
func ExampleNewClient_daraja() {
	srv, opts := darajaSandbox()
	defer srv.Close()

	// In production:
	//
	//	client, err := mpesa.NewClient(consumerKey,
	//		mpesa.WithGateway(mpesa.GatewayDaraja),
	//		mpesa.WithEnvironment(mpesa.Production),
	//		mpesa.WithConsumerSecret(consumerSecret),
	//		mpesa.WithServiceProviderCode(shortcode),
	//		mpesa.WithPasskey(passkey),
	//		mpesa.WithInitiator(initiatorName, initiatorPassword),
	//		mpesa.WithResultURL("https://pay.example.co.ke/daraja/result"),
	//		mpesa.WithQueueTimeoutURL("https://pay.example.co.ke/daraja/timeout"))
	client, err := mpesa.NewClient("consumer-key", opts...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client)
	fmt.Println(client.Market().Name(), client.Currency())

	// Every missing or invalid setting is named.
	_, err = mpesa.NewClient("consumer-key", mpesa.WithGateway(mpesa.GatewayDaraja),
		mpesa.WithEnvironment(mpesa.Production), mpesa.WithResultURL("http://example.com/mpesa/result"))
	fmt.Println(err)
	// Output:
	// mpesa.Client{gateway: daraja, environment: sandbox, market: safaricomKEN, credentials: [REDACTED]}
	// Safaricom Kenya KES
	// mpesa: WithConsumerSecret: the Daraja gateway needs the consumer secret of the app
	// mpesa: WithResultURL: the URL must be https in production
}

// An STK push (M-Pesa Express): Daraja sends the PIN prompt and answers at
// once; the result comes to the result URL, or is asked with the STK query
// on the ConversationID (the CheckoutRequestID). Amounts are whole
// shillings, and an STK push is never sent twice by the client.
func ExampleClient_C2B_daraja() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	client, err := mpesa.NewClient("consumer-key", opts...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	res, err := client.C2B(ctx, mpesa.C2BRequest{
		Amount:               "1",
		CustomerMSISDN:       "254708374149",
		TransactionReference: "INV-1042", // the AccountReference, at most 12 characters
		PurchasedItemsDesc:   "Shoes",    // the TransactionDesc, at most 13
	})
	switch {
	case errors.Is(err, mpesa.ErrCustomerBusy):
		fmt.Println("the customer has a prompt open; ask again in a minute")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(res.ConversationID, res.CustomerMessage, res.Async())
	}
	// Output:
	// ws_CO_191220191020363925 Success. Request accepted for processing true
}

// A B2C v3 payment: ThirdPartyConversationID is the
// OriginatorConversationID, Daraja's idempotency key; keep it to query the
// payment, and resend only with it.
func ExampleClient_B2C_daraja() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	client, err := mpesa.NewClient("consumer-key", opts...)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.B2C(context.Background(), mpesa.B2CRequest{
		Amount:                   "500",
		CustomerMSISDN:           "254708374149",
		ServiceProviderCode:      "600996",
		PaymentItemsDesc:         "November salary", // the Remarks
		ThirdPartyConversationID: "PAYROLL-2026-11-0042",
		CommandID:                "SalaryPayment",
	})
	switch {
	case errors.Is(err, mpesa.ErrDuplicate):
		fmt.Println("sent before: query it with the same reference")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(res.ConversationID, res.OriginatorConversationID, res.Async())
	}
	// Output:
	// AG_20191219_00005797af5d7d75f652 PAYROLL-2026-11-0042 true
}

// A business pay bill payment; the TransactionReference is the account at
// the receiving pay bill.
func ExampleClient_B2B_daraja() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	client, err := mpesa.NewClient("consumer-key", opts...)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.B2B(context.Background(), mpesa.B2BRequest{
		Amount:               "239",
		ReceiverPartyCode:    "000000",
		TransactionReference: "353353",
		PurchasedItemsDesc:   "Stock, November",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ConversationID, res.Async())
	// Output:
	// AG_20191219_00005797af5d7d75f652 true
}

// A reversal of a payment the shortcode received; the result comes to the
// result URL.
func ExampleClient_Reversal_daraja() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	client, err := mpesa.NewClient("consumer-key", opts...)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.Reversal(context.Background(), mpesa.ReversalRequest{
		TransactionID:  "PDU91HIVIT",
		ReversalAmount: "200",
		Remarks:        "Paid twice",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ConversationID, res.Async())
	// Output:
	// AG_20191219_00005797af5d7d75f652 true
}

// The status of an STK push comes at once from the STK query; any other
// transaction's comes by callback to the result URL.
func ExampleClient_TransactionStatus_daraja() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	client, err := mpesa.NewClient("consumer-key", opts...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for _, ref := range []string{"ws_CO_191220191020363925", "ws_CO_191220191020363925", "PDU91HIVIT"} {
		st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: ref})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %q async=%v\n", ref, st.TransactionStatus, st.Async())
	}
	// Output:
	// ws_CO_191220191020363925: "Pending" async=false
	// ws_CO_191220191020363925: "Completed" async=false
	// PDU91HIVIT: "" async=true
}

// Reconcile polls the STK query until the customer has answered the
// prompt.
func ExampleClient_Reconcile_daraja() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	client, err := mpesa.NewClient("consumer-key", append(opts, mpesa.WithReconcileBackoff(10*time.Millisecond, 50*time.Millisecond))...)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := client.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: "ws_CO_191220191020363925"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.TransactionStatus, st.ResultCode)
	// Output:
	// Completed 0
}

// With WithResults, Reconcile waits for the status that Daraja's
// transaction status API posts to the result URL, on the hub the result
// Handler feeds. Here the hub is fed by hand, as the Handler does with
// FeedResults.
func ExampleWithResults() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	hub := mpesa.NewResults(0, 0)
	client, err := mpesa.NewClient("consumer-key", append(opts, mpesa.WithResults(hub))...)
	if err != nil {
		log.Fatal(err)
	}
	go hub.Deliver(context.Background(), &mpesa.Result{ // what the callback for the status query carries
		Gateway:                mpesa.GatewayDaraja,
		OriginalConversationID: "AG_20191219_00005797af5d7d75f652",
		ResultCode:             "0",
		Parameters:             []mpesa.ResultParameter{{Key: "TransactionStatus", Value: "Completed"}, {Key: "ReceiptNo", Value: "LGR919G2AV"}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := client.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: "PAYROLL-2026-11-0042"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.TransactionStatus, st.OriginalTransactionID)
	// Output:
	// Completed LGR919G2AV
}

// The balances of the shortcode's accounts come to the result URL.
func ExampleClient_AccountBalance() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	client, err := mpesa.NewClient("consumer-key", opts...)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.AccountBalance(context.Background(), mpesa.AccountBalanceRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ConversationID, res.Async())
	// Output:
	// AG_20191219_00005797af5d7d75f652 true
}

// Registering where customers' own C2B payments are confirmed. In
// production a shortcode registers once.
func ExampleClient_RegisterC2BURLs() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	client, err := mpesa.NewClient("consumer-key", opts...)
	if err != nil {
		log.Fatal(err)
	}
	for _, shortcode := range []string{"601426", "600000"} {
		res, err := client.RegisterC2BURLs(context.Background(), mpesa.RegisterC2BURLsRequest{
			ShortCode:       shortcode,
			ResponseType:    mpesa.C2BResponseCompleted,
			ConfirmationURL: "https://pay.example.co.ke/c2b/confirmation",
			ValidationURL:   "https://pay.example.co.ke/c2b/validation",
		})
		switch {
		case errors.Is(err, mpesa.ErrAlreadyRegistered):
			fmt.Println(shortcode, "is registered already: change its URLs on the Daraja portal")
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Println(shortcode, res.ResponseDesc)
		}
	}
	// Output:
	// 601426 success
	// 600000 is registered already: change its URLs on the Daraja portal
}

// The sandbox plays a customer paying the shortcode from their phone.
func ExampleClient_SimulateC2B() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	client, err := mpesa.NewClient("consumer-key", opts...)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.SimulateC2B(context.Background(), mpesa.SimulateC2BRequest{
		Amount:        "100",
		MSISDN:        "254708374149",
		BillRefNumber: "INV-1042",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ResponseDesc)
	// Output:
	// Accept the service request successfully.
}

// A shortcode registers once for the Pull API.
func ExampleClient_PullRegister() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	client, err := mpesa.NewClient("consumer-key", opts...)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.PullRegister(context.Background(), mpesa.PullRegisterRequest{
		NominatedNumber: "254722000000",
		CallbackURL:     "https://pay.example.co.ke/pull/callback",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ResponseStatus, res.ResponseDesc)
	// Output:
	// 1000 Shortcode Registered Successfully
}

// The C2B payments of the last hours, for payments whose confirmation
// never arrived. A PullTransaction prints with its number masked.
func ExampleClient_PullQuery() {
	srv, opts := darajaSandbox()
	defer srv.Close()
	client, err := mpesa.NewClient("consumer-key", opts...)
	if err != nil {
		log.Fatal(err)
	}
	end := time.Date(2020, 8, 5, 12, 0, 0, 0, time.UTC)
	res, err := client.PullQuery(context.Background(), mpesa.PullQueryRequest{StartDate: end.Add(-24 * time.Hour), EndDate: end})
	if err != nil {
		log.Fatal(err)
	}
	for _, tx := range res.Transactions {
		fmt.Println(tx.TransactionID, tx.Amount, tx.BillReference)
		fmt.Printf("%v\n", tx.MSISDN == "254722000000")
		fmt.Printf("%+v\n", tx)
	}
	// Output:
	// yzlyrEsRG1 168.00 37207636392
	// true
	// {TransactionID:yzlyrEsRG1 TransactionDate:2020-08-05T10:13:00Z MSISDN:254******000 Sender:UAT2 TransactionType:c2b-pay-bill-debit BillReference:37207636392 Amount:168.00 OrganizationName:Daraja Pull API Test Extra:map[]}
}

// Kenyan numbers as people type them: 07… and 01…, with or without +254.
func ExampleNormalizeMSISDN_kenya() {
	for _, s := range []string{"0712 345 678", "0110 123 456", "+254 712 345 678"} {
		n, err := mpesa.NormalizeMSISDN(mpesa.MarketKenya, s)
		fmt.Println(n, err)
	}
	// Output:
	// 254712345678 <nil>
	// 254110123456 <nil>
	// 254712345678 <nil>
}
