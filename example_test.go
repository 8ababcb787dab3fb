package mpesa_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// A client of the OpenAPI v2 gateway for Vodacom Tanzania. Here it talks to
// the in-process simulator of package mpesatest; in production the same
// client is built from the API key and the public key of the portal
// application, the market, WithEnvironment(mpesa.Production) and
// WithServiceProviderCode with the business shortcode.
func ExampleNewClient() {
	srv := mpesatest.NewServer()
	defer srv.Close()

	// In production:
	//
	//	client, err := mpesa.NewClient(apiKey,
	//		mpesa.WithMarket(mpesa.MarketTanzania),
	//		mpesa.WithEnvironment(mpesa.Production),
	//		mpesa.WithPublicKey(publicKey),
	//		mpesa.WithServiceProviderCode("000000"))
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client)
	fmt.Println(client.Market().Name(), client.Market().Country(), client.Currency())

	// Every invalid option is reported by name, and the error never holds
	// the API key.
	_, err = mpesa.NewClient(srv.APIKey(), mpesa.WithMaxRetries(-1))
	fmt.Println(err)
	// Output:
	// mpesa.Client{gateway: openapi-v2, environment: sandbox, market: vodacomTZN, credentials: [REDACTED]}
	// Vodacom Tanzania TZN TZS
	// mpesa: WithMaxRetries: -1 is outside 0..10
	// mpesa: WithMarket: a market is required on the OpenAPI gateway
}

// A client of the Vodacom Mozambique v1x gateway, which has no session step
// and no market option, paying with a C2B on the simulator.
func ExampleNewClient_mozambique() {
	srv := mpesatest.NewServer()
	defer srv.Close()

	client, err := mpesa.NewClient(srv.APIKey(), srv.Options(mpesa.GatewayMozambique)...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client)
	fmt.Println(client.Gateway(), client.Market(), client.Currency())

	res, err := client.C2B(context.Background(), mpesa.C2BRequest{
		Amount:                   "10",
		CustomerMSISDN:           mpesatest.MozambiqueMSISDNSuccess,
		TransactionReference:     "T12344C",
		ThirdPartyConversationID: "11114",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ResponseCode, res.ThirdPartyConversationID, len(res.TransactionID) > 0)
	// Output:
	// mpesa.Client{gateway: mozambique-v1x, environment: sandbox, market: vodacomMOZ, credentials: [REDACTED]}
	// mozambique-v1x vodacomMOZ MZN
	// INS-0 11114 true
}

// A customer-to-business payment: the customer confirms a PIN prompt on
// their phone while the call is open. The switch shows how the errors of a
// payment are told apart.
func ExampleClient_C2B() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	pay := func(req mpesa.C2BRequest) {
		res, err := client.C2B(ctx, req)
		var invalid *mpesa.ValidationError
		var refused *mpesa.Error
		switch {
		case err == nil:
			fmt.Println("paid:", res.ResponseCode, res.ThirdPartyConversationID, len(res.TransactionID) > 0)
		case errors.Is(err, mpesa.ErrOutcomeUnknown) && errors.As(err, &refused):
			// The request left but no answer came back: the customer
			// may have paid. Reconcile before anything else, and send
			// the payment again only with the same reference, which
			// the error carries even when the client generated it.
			st, err := client.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: refused.ThirdPartyConversationID})
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println("reconciled:", st.TransactionStatus)
		case errors.As(err, &invalid):
			// Refused by the client before anything was sent.
			for _, f := range invalid.Fields {
				fmt.Println("invalid:", f.Field, f.Rule)
			}
		case errors.Is(err, mpesa.ErrInsufficientBalance):
			fmt.Println("ask the customer to top up")
		case errors.As(err, &refused):
			fmt.Println("refused:", refused.HTTPStatus, refused.Code, refused.Description)
		default:
			log.Fatal(err)
		}
	}

	pay(mpesa.C2BRequest{
		Amount:                   "10.00",
		CustomerMSISDN:           mpesatest.MSISDNSuccess,
		TransactionReference:     "T12344C",
		ThirdPartyConversationID: "order1001",
		PurchasedItemsDesc:       "Handbag, Black shoes",
	})
	pay(mpesa.C2BRequest{
		Amount:                   "10.00",
		CustomerMSISDN:           mpesatest.MSISDNInsufficientBalance,
		TransactionReference:     "T12345C",
		ThirdPartyConversationID: "order1002",
		PurchasedItemsDesc:       "Handbag",
	})
	pay(mpesa.C2BRequest{
		Amount:                   "10.00",
		CustomerMSISDN:           mpesatest.MSISDNPromptTimeout,
		TransactionReference:     "T12346C",
		ThirdPartyConversationID: "order1003",
		PurchasedItemsDesc:       "Handbag",
	})
	pay(mpesa.C2BRequest{
		Amount:                   "ten",
		CustomerMSISDN:           "0744553111",
		TransactionReference:     "T12347C",
		ThirdPartyConversationID: "order1004",
	})
	// Output:
	// paid: INS-0 order1001 true
	// ask the customer to top up
	// refused: 408 INS-9 Request timeout
	// invalid: Amount must match ^\d*\.?\d+$ and be greater than zero
	// invalid: CustomerMSISDN must be 12 to 14 digits with the country code (see NormalizeMSISDN)
	// invalid: PurchasedItemsDesc is required
}

// A business-to-customer payment from the business's wallet, such as a
// salary or a refund. No prompt is shown to the customer.
func ExampleClient_B2C() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}

	res, err := client.B2C(context.Background(), mpesa.B2CRequest{
		Amount:                   "250.00",
		CustomerMSISDN:           mpesatest.MSISDNSuccess,
		TransactionReference:     "Salary2024",
		ThirdPartyConversationID: "payout2001",
		PaymentItemsDesc:         "Salary payment",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ResponseCode, res.ThirdPartyConversationID, len(res.TransactionID) > 0, res.Async())
	// Output:
	// INS-0 payout2001 true false
}

// A business-to-business payment from the client's shortcode
// (WithServiceProviderCode) to another business's.
func ExampleClient_B2B() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}

	res, err := client.B2B(context.Background(), mpesa.B2BRequest{
		Amount:                   "1500.00",
		ReceiverPartyCode:        "000001",
		TransactionReference:     "Invoice 7781",
		ThirdPartyConversationID: "supplier3001",
		PurchasedItemsDesc:       "Stock for March",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ResponseCode, res.ThirdPartyConversationID, len(res.TransactionID) > 0)
	// Output:
	// INS-0 supplier3001 true
}

// A partial reversal of a C2B payment, by the payment's TransactionID. A
// status query then reports the payment reversed.
func ExampleClient_Reversal() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	paid, err := client.C2B(ctx, mpesa.C2BRequest{
		Amount:                   "10.00",
		CustomerMSISDN:           mpesatest.MSISDNSuccess,
		TransactionReference:     "T12344C",
		ThirdPartyConversationID: "order1001",
		PurchasedItemsDesc:       "Handbag, Black shoes",
	})
	if err != nil {
		log.Fatal(err)
	}

	// Give back 4.00 of the 10.00.
	res, err := client.Reversal(ctx, mpesa.ReversalRequest{
		TransactionID:            paid.TransactionID,
		ReversalAmount:           "4.00",
		ThirdPartyConversationID: "refund1001",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ResponseCode, res.ThirdPartyConversationID, len(res.TransactionID) > 0)

	st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: paid.TransactionID})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.TransactionStatus, st.Reversed, st.OriginalTransactionID == paid.TransactionID)

	// A transaction is reversed at most once.
	_, err = client.Reversal(ctx, mpesa.ReversalRequest{
		TransactionID:            paid.TransactionID,
		ThirdPartyConversationID: "refund1002",
	})
	fmt.Println(errors.Is(err, mpesa.ErrTransactionFailed))
	// Output:
	// INS-0 refund1001 true
	// Completed true true
	// true
}

// A status query finds a transaction by its TransactionID, its
// ThirdPartyConversationID or its ConversationID, and reports how it ended.
func ExampleClient_TransactionStatus() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// One payment that completes and one whose PIN prompt times out.
	for _, p := range []struct{ ref, msisdn string }{
		{"order1001", mpesatest.MSISDNSuccess},
		{"order1002", mpesatest.MSISDNPromptTimeout},
	} {
		_, err := client.C2B(ctx, mpesa.C2BRequest{
			Amount:                   "10.00",
			CustomerMSISDN:           p.msisdn,
			TransactionReference:     "T12344C",
			ThirdPartyConversationID: p.ref,
			PurchasedItemsDesc:       "Handbag",
		})
		fmt.Println(p.ref, "paid:", err == nil)
	}

	for _, ref := range []string{"order1001", "order1002", "order1003"} {
		st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: ref})
		switch {
		case errors.Is(err, mpesa.ErrTransactionNotFound):
			fmt.Println(ref, "not found")
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Println(ref, st.ResponseCode, st.TransactionStatus, "final:", st.TransactionStatus.Final())
		}
	}
	// Output:
	// order1001 paid: true
	// order1002 paid: false
	// order1001 INS-0 Completed final: true
	// order1002 INS-0 Expired final: true
	// order1003 not found
}

// Reconcile after a payment whose answer was lost: here the simulator
// processes the C2B and then resets the connection, so the client cannot
// know whether the customer paid. Reconcile polls the status until it is
// final.
func ExampleClient_Reconcile() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI),
			mpesa.WithMarket(mpesa.MarketTanzania),
			mpesa.WithReconcileBackoff(100*time.Millisecond, time.Second))...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultReset, Processed: true})

	// Store the reference with the order before the call (NewReference
	// makes one): it is how the payment is found again.
	ref := "order1001"
	_, err = client.C2B(ctx, mpesa.C2BRequest{
		Amount:                   "10.00",
		CustomerMSISDN:           mpesatest.MSISDNSuccess,
		TransactionReference:     "T12344C",
		ThirdPartyConversationID: ref,
		PurchasedItemsDesc:       "Handbag, Black shoes",
	})
	fmt.Println("outcome unknown:", errors.Is(err, mpesa.ErrOutcomeUnknown))

	st, err := client.Reconcile(ctx, mpesa.TransactionStatusRequest{QueryReference: ref})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.TransactionStatus, len(st.OriginalTransactionID) > 0)
	// Output:
	// outcome unknown: true
	// Completed true
}

// A direct debit mandate: the customer agrees, on a prompt, that the
// business may collect monthly between the 1st and the 5th.
func ExampleClient_DirectDebitCreate() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}

	res, err := client.DirectDebitCreate(context.Background(), mpesa.DirectDebitCreateRequest{
		CustomerMSISDN:           mpesatest.MSISDNSuccess,
		MandateReference:         "Gym2024",
		ThirdPartyConversationID: "mandate1001",
		AgreedTC:                 true,
		Frequency:                mpesa.FrequencyMonthly,
		FirstPaymentDate:         "20240301",
		StartRangeOfDays:         "01",
		EndRangeOfDays:           "05",
	})
	if err != nil {
		log.Fatal(err)
	}
	// Keep the MsisdnToken and MandateID with the mandate reference: later
	// direct debit calls can name the customer by token.
	fmt.Println(res.ResponseCode, len(res.MsisdnToken) > 0, len(res.MandateID) > 0)

	// A customer who declines the prompt gives no mandate.
	_, err = client.DirectDebitCreate(context.Background(), mpesa.DirectDebitCreateRequest{
		CustomerMSISDN:   mpesatest.MSISDNCancelled,
		MandateReference: "Gym2025",
		AgreedTC:         true,
	})
	fmt.Println(errors.Is(err, mpesa.ErrTransactionFailed))
	// Output:
	// INS-0 true true
	// true
}

// A collection under a mandate: no prompt, the customer is named by the
// token that DirectDebitCreate returned.
func ExampleClient_DirectDebitPayment() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	mandate, err := client.DirectDebitCreate(ctx, mpesa.DirectDebitCreateRequest{
		CustomerMSISDN:   mpesatest.MSISDNSuccess,
		MandateReference: "Gym2024",
		AgreedTC:         true,
		Frequency:        mpesa.FrequencyMonthly,
		FirstPaymentDate: "20240301",
	})
	if err != nil {
		log.Fatal(err)
	}

	res, err := client.DirectDebitPayment(ctx, mpesa.DirectDebitPaymentRequest{
		MsisdnToken:              mandate.MsisdnToken,
		MandateReference:         "Gym2024",
		Amount:                   "30.00",
		ThirdPartyConversationID: "gymfee202403",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ResponseCode, res.ThirdPartyConversationID, len(res.TransactionID) > 0)

	// Without a mandate there is nothing to collect: the Direct Debit
	// Payment page answers 401 INS-6 "Transaction Failed".
	_, err = client.DirectDebitPayment(ctx, mpesa.DirectDebitPaymentRequest{
		CustomerMSISDN:   mpesatest.MSISDNSuccess,
		MandateReference: "Pool2024",
		Amount:           "30.00",
	})
	fmt.Println(errors.Is(err, mpesa.ErrTransactionFailed))
	// Output:
	// INS-0 gymfee202403 true
	// true
}

// A mandate query before a collection: is the mandate active, and does the
// customer's balance cover the amount?
func ExampleClient_DirectDebitQuery() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	_, err = client.DirectDebitCreate(ctx, mpesa.DirectDebitCreateRequest{
		CustomerMSISDN:   mpesatest.MSISDNSuccess,
		MandateReference: "Gym2024",
		AgreedTC:         true,
		Frequency:        mpesa.FrequencyMonthly,
		FirstPaymentDate: "20240301",
		StartRangeOfDays: "01",
		EndRangeOfDays:   "05",
	})
	if err != nil {
		log.Fatal(err)
	}

	res, err := client.DirectDebitQuery(ctx, mpesa.DirectDebitQueryRequest{
		CustomerMSISDN:     mpesatest.MSISDNSuccess,
		MandateReference:   "Gym2024",
		QueryBalanceAmount: true,
		BalanceAmount:      "30.00",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ResponseCode, res.MandateStatus, res.AccountStatus)
	fmt.Println(res.Frequency == mpesa.FrequencyMonthly, res.FirstPaymentDate, res.PaymentDayFrom, res.PaymentDayTo)
	fmt.Println("sufficient balance:", res.SufficientBalance)
	// Output:
	// INS-0 Active Active
	// true 20240301 01 05
	// sufficient balance: true
}

// Cancelling a mandate ends it: later collections under it are refused.
func ExampleClient_DirectDebitCancel() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	mandate, err := client.DirectDebitCreate(ctx, mpesa.DirectDebitCreateRequest{
		CustomerMSISDN:   mpesatest.MSISDNSuccess,
		MandateReference: "Gym2024",
		AgreedTC:         true,
	})
	if err != nil {
		log.Fatal(err)
	}

	res, err := client.DirectDebitCancel(ctx, mpesa.DirectDebitCancelRequest{
		MsisdnToken:      mandate.MsisdnToken,
		MandateReference: "Gym2024",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ResponseCode, res.TransactionReference)

	_, err = client.DirectDebitPayment(ctx, mpesa.DirectDebitPaymentRequest{
		MsisdnToken:      mandate.MsisdnToken,
		MandateReference: "Gym2024",
		Amount:           "30.00",
	})
	fmt.Println(errors.Is(err, mpesa.ErrTransactionFailed)) // INS-6, as the Direct Debit Payment page lists it

	// Cancelling it again: the mandate does not exist any more.
	_, err = client.DirectDebitCancel(ctx, mpesa.DirectDebitCancelRequest{
		MsisdnToken:      mandate.MsisdnToken,
		MandateReference: "Gym2024",
	})
	fmt.Println(errors.Is(err, mpesa.ErrMandateNotFound))
	// Output:
	// INS-0 Gym2024
	// true
	// true
}

// Checking who will receive money before paying them. The portal offers the
// beneficiary-name query in Ghana only; other markets may answer
// ErrInvalidMarket.
func ExampleClient_BeneficiaryName() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	srv.SetCustomer(mpesatest.MSISDNSuccess, mpesatest.Customer{FirstName: "Ama", LastName: "Mensah"})

	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketGhana))...)
	if err != nil {
		log.Fatal(err)
	}

	res, err := client.BeneficiaryName(context.Background(), mpesa.BeneficiaryNameRequest{
		CustomerMSISDN: mpesatest.MSISDNSuccess,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ResponseCode, res.FirstName, res.LastName)
	fmt.Println(res.Name)
	// Output:
	// INS-0 Ama Mensah
	// Ama Mensah
}

// Numbers as people type them, turned into the calling code and national
// number the gateways take.
func ExampleNormalizeMSISDN() {
	for _, in := range []struct {
		market mpesa.Market
		number string
	}{
		{mpesa.MarketTanzania, "+255 74 455 3111"},
		{mpesa.MarketTanzania, "0744553111"},
		{mpesa.MarketMozambique, "84 333 0333"},
		{mpesa.MarketTanzania, "+254 712 345 678"}, // a Kenyan number
	} {
		msisdn, err := mpesa.NormalizeMSISDN(in.market, in.number)
		if err != nil {
			fmt.Println(errors.Is(err, mpesa.ErrInvalidMSISDN), err)
			continue
		}
		fmt.Println(msisdn)
	}
	// Output:
	// 255744553111
	// 255744553111
	// 258843330333
	// true mpesa: invalid MSISDN: 254******678 is not a number of Vodacom Tanzania (+255)
}

// A reference generated and stored before the call finds the payment again,
// even after a crash that lost the answer.
func ExampleNewReference() {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient(srv.APIKey(),
		append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketTanzania))...)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	ref := mpesa.NewReference() // store it with the order first
	fmt.Println(len(ref))

	res, err := client.C2B(ctx, mpesa.C2BRequest{
		Amount:                   "10.00",
		CustomerMSISDN:           mpesatest.MSISDNSuccess,
		TransactionReference:     "T12344C",
		ThirdPartyConversationID: ref,
		PurchasedItemsDesc:       "Handbag",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ThirdPartyConversationID == ref)

	st, err := client.TransactionStatus(ctx, mpesa.TransactionStatusRequest{QueryReference: ref})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.TransactionStatus)
	// Output:
	// 20
	// true
	// Completed
}

// What the documents say of a response code: its HTTP status, its
// description and the sentinel error it matches. Codes mean different
// things on different gateways and products.
func ExampleLookupCode() {
	for _, q := range []struct {
		gateway mpesa.Gateway
		api     mpesa.API
		code    string
	}{
		{mpesa.GatewayOpenAPI, mpesa.APIC2B, "INS-2006"},
		{mpesa.GatewayMozambique, mpesa.APIC2B, "INS-5"},
		{mpesa.GatewayOpenAPI, mpesa.APIC2B, "INS-6"},
		{mpesa.GatewayOpenAPI, mpesa.APIDirectDebitCancel, "INS-6"},
	} {
		c, ok := mpesa.LookupCode(q.gateway, q.api, q.code)
		if !ok {
			fmt.Println(q.code, "undocumented")
			continue
		}
		fmt.Printf("%s %s %d %q: %v\n", c.Gateway, c.Code, c.HTTPStatus, c.Description, c.Kind)
	}
	_, ok := mpesa.LookupCode(mpesa.GatewayOpenAPI, mpesa.APIC2B, "INS-12345")
	fmt.Println(ok)
	// Output:
	// openapi-v2 INS-2006 422 "Insufficient balance": mpesa: insufficient balance
	// mozambique-v1x INS-5 401 "Transaction cancelled by customer": mpesa: transaction cancelled by customer
	// openapi-v2 INS-6 401 "Transaction Failed": mpesa: transaction failed
	// openapi-v2 INS-6 401 "Mandate does not exist": mpesa: direct debit mandate not found
	// false
}
