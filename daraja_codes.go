package mpesa

// darajaCodes is every code the Daraja documents list: the API gateway's
// error codes with their HTTP statuses (docs/gateways.md D4, D23), the
// result codes of each product, which arrive in callbacks and in the STK
// query (HTTP status 0; docs/gateways.md D9, D15, D19, D24), the core
// errors of the AccountBalance page (D23), the generic core table of the
// 2017 summary (D29), and the Pull codes (D22).
//
// The same number means different things per API (docs/gateways.md D24,
// X2): 17 is "rule limited" on the STK push and "internal failure" in the
// core; 1 is the customer's balance on the STK push and the Utility account
// on B2C. A product's rows come first, then the general ones.
var darajaCodes = func() codeTable {
	t := codeTable{
		// Success.
		row("0", 200, "Success", nil),

		// The API gateway's error envelope.
		row("400.002.02", 400, "Bad Request - Invalid field", ErrInvalidRequest),
		row("400.002.05", 400, "Invalid Request Payload", ErrInvalidRequest),
		row("400.003.01", 400, "Invalid Access Token", ErrUnauthorized),
		row("400.003.02", 400, "Bad Request", ErrInvalidRequest),
		apiRow(APIToken, "400.008.01", 400, "Invalid Authentication passed", ErrUnauthorized),
		apiRow(APIToken, "400.008.02", 400, "Invalid grant type passed", ErrUnauthorized),
		row("401.002.01", 401, "Invalid Access Token", ErrUnauthorized),
		row("401.003.01", 401, "Invalid Access Token - Invalid API call as no apiproduct match found", ErrAPINotEnabled),
		row("404.001.01", 404, "Resource not found", nil),
		row("404.002.01", 404, "Resource not found", nil),
		row("404.003.01", 404, "Resource not found", nil),
		row("404.001.03", 404, "Invalid Access Token", ErrUnauthorized),
		row("404.001.04", 404, "Invalid Authentication Header", ErrUnauthorized),
		row("405.001", 405, "Method Not Allowed", nil),
		// 500.001.1001: four meanings on the STK push and query, told
		// apart by errorMessage (docs/gateways.md D9); the client refines
		// the sentinel from the message.
		apiRow(APIC2B, "500.001.1001", 500, "Merchant does not exist, wrong credentials, or unable to lock subscriber", nil),
		apiRow(APISTKQuery, "500.001.1001", 500, "The transaction is being processed", nil),
		row("500.001.1001", 500, "Server error", nil),
		row("500.002.1001", 500, "Duplicate OriginatorConversationID.", ErrDuplicate),
		// 500.003.1001 is also "Urls are already registered" and
		// "Duplicate notification info" (docs/gateways.md D12): the client
		// tells them apart by errorMessage (ErrAlreadyRegistered).
		row("500.003.1001", 500, "Internal Server Error", ErrInternal),
		row("500.003.02", 500, "Spike Arrest Violation", ErrOverloaded),
		row("500.003.03", 500, "Quota Violation", ErrOverloaded),
		row("00.002.1001", 0, "Service is currently under maintenance. Please try again later", ErrOverloaded),

		// Pull (docs/gateways.md D22).
		row("400.001", 400, "Invalid shortcode", ErrInvalidRequest),
		row("401.001", 401, "Invalid Access Token", ErrUnauthorized),
		apiRow(APIPullRegister, "1000", 200, "Short code Registered Successfully", nil),
		apiRow(APIPullRegister, "1001", 200, "ShortCode already Registered", ErrAlreadyRegistered),
		apiRow(APIPullQuery, "1000", 200, "Success, transactions fetched successfully", nil),
		apiRow(APIPullQuery, "1001", 200, "No transactions available for the selected time period", nil),
		apiRow(APIPullQuery, "500", 500, "Failed to retrieve transactions. The short code does not have any available transactions", ErrTransactionNotFound),
	}

	// The STK push's result codes (MpesaExpressSimulate), which the STK
	// query repeats (docs/gateways.md D9).
	stk := codeTable{
		row("1", 0, "The balance is insufficient for the transaction", ErrInsufficientBalance),
		row("2", 0, "Less than the minimum transaction value (Ksh 1)", ErrLimitBreached),
		row("3", 0, "More than the maximum transaction value", ErrLimitBreached),
		row("4", 0, "Would exceed the daily transfer limit (Ksh 500,000)", ErrLimitBreached),
		row("8", 0, "Would exceed the customer's maximum balance", ErrLimitBreached),
		row("17", 0, "Rule limited: the same amount to the same customer within 2 minutes", ErrLimitBreached),
		row("1019", 0, "Transaction has expired", ErrPromptTimeout),
		row("1025", 0, "An error occurred while sending a push request: the prompt exceeds 182 characters", ErrInvalidRequest),
		row("1032", 0, "Request cancelled by user", ErrCancelledByCustomer),
		row("1037", 0, "DS timeout user cannot be reached", ErrPromptTimeout),
		row("2001", 0, "The initiator information is invalid (wrong PIN)", ErrUnauthorized),
		row("2028", 0, "The request is not permitted according to product assignment", ErrInvalidRequest),
		row("8006", 0, "The security credential is locked", ErrUnauthorized),
		row("SFC_IC0003", 0, "Operator does not exist", ErrInvalidMSISDN),
	}
	// B2C's (BusinessToCustomer); reversal repeats a part of them
	// (docs/gateways.md D15, D19).
	b2c := codeTable{
		row("1", 0, "The balance is insufficient for the transaction (Utility account)", ErrInsufficientBalance),
		row("2", 0, "Declined due to limit rule: less than the minimum transaction amount", ErrLimitBreached),
		row("3", 0, "Declined due to limit rule: greater than the maximum transaction amount", ErrLimitBreached),
		row("4", 0, "Declined due to limit rule: would exceed the daily transfer limit", ErrLimitBreached),
		row("8", 0, "Declined due to limit rule: would exceed the maximum balance", ErrLimitBreached),
		row("11", 0, "The DebitParty is in an invalid state", ErrTransactionFailed),
		row("21", 0, "The initiator is not allowed to initiate this request", ErrUnauthorized),
		row("2001", 0, "The initiator information is invalid", ErrUnauthorized),
		row("2006", 0, "Declined due to account rule: the account status does not allow this transaction", ErrTransactionFailed),
		row("2028", 0, "The request is not permitted according to product assignment", ErrInvalidRequest),
		row("2040", 0, "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service", ErrInvalidMSISDN),
		row("8006", 0, "The security credential is locked", ErrUnauthorized),
		row("SFC_IC0003", 0, "The receiver party does not exist", ErrInvalidMSISDN),
	}
	reversal := codeTable{
		row("R000001", 0, "The transaction has already been reversed", ErrDuplicate),
		row("R000002", 0, "The OriginalTransactionID is invalid", ErrTransactionNotFound),
	}
	for _, e := range b2c {
		switch e.info.Code {
		case "1", "11", "21", "2001", "2006", "2028", "8006":
			reversal = append(reversal, e)
		}
	}
	for _, api := range []API{APIC2B, APISTKQuery} {
		t = append(t, withAPI(api, stk)...)
	}
	t = append(t, withAPI(APIB2C, b2c)...)
	t = append(t, withAPI(APIReversal, reversal)...)
	t = append(t, apiRow(APITransactionStatus, "SFC_IC0003", 0, "The transaction or the operator does not exist", ErrInvalidRequest))

	// The core codes of the AccountBalance page, and the generic table of
	// the 2017 summary, for every API (docs/gateways.md D23, D29).
	return append(t,
		row("1", 0, "Insufficient Funds", ErrInsufficientBalance),
		row("2", 0, "Less Than Minimum Transaction Value", ErrLimitBreached),
		row("3", 0, "More Than Maximum Transaction Value", ErrLimitBreached),
		row("4", 0, "Would Exceed Daily Transfer Limit", ErrLimitBreached),
		row("5", 0, "Would Exceed Minimum Balance", ErrInsufficientBalance),
		row("6", 0, "Unresolved Primary Party", ErrInvalidRequest),
		row("7", 0, "Unresolved Receiver Party", ErrInvalidRequest),
		row("8", 0, "Would Exceed Maximum Balance", ErrLimitBreached),
		row("11", 0, "Debit Account Invalid", ErrTransactionFailed),
		row("12", 0, "Credit Account Invalid", ErrTransactionFailed),
		row("13", 0, "Unresolved Debit Account", ErrInvalidRequest),
		row("14", 0, "Unresolved Credit Account", ErrInvalidRequest),
		row("15", 0, "Duplicate Detected", ErrDuplicate),
		row("17", 0, "Internal Failure", ErrInternal),
		row("18", 0, "Initiator Credential Check Failure", ErrUnauthorized),
		row("19", 0, "Message Sequencing Failure", ErrInternal),
		row("20", 0, "Unresolved Initiator", ErrUnauthorized),
		row("21", 0, "Initiator to Primary Party Permission Failure", ErrUnauthorized),
		row("22", 0, "Initiator to Receiver Party Permission Failure", ErrUnauthorized),
		row("24", 0, "Missing Mandatory Fields", ErrInvalidRequest),
		row("25", 0, "Invalid Request Parameters", ErrInvalidRequest),
		row("26", 0, "Traffic blocking condition in place", ErrOverloaded),
		row("29", 0, "Invalid Command", ErrInvalidRequest),
		// The request is cached by M-Pesa and will be sent again: not an
		// outcome.
		row("100000000", 0, "Request was cached, waiting for resending", nil),
		row("100000001", 0, "The system is overload", ErrOverloaded),
		row("100000002", 0, "Throttling error", ErrOverloaded),
		row("100000004", 0, "Internal Server Error", ErrInternal),
		row("100000005", 0, "Invalid input value", ErrInvalidRequest),
		row("100000007", 0, "The status is abnormal", nil),
		row("100000009", 0, "The status is abnormal", nil),
		row("100000010", 0, "Insufficient permissions", ErrUnauthorized),
		row("100000011", 0, "Exceed the limitation of request rate", ErrOverloaded),
		row("SFC_IC0003", 0, "Operator does not exist", ErrInvalidRequest),
		// Every initiator API (B2C, B2B, reversal, status, balance) can
		// fail on the initiator (docs/gateways.md D11).
		row("2001", 0, "The initiator information is invalid", ErrUnauthorized),
		row("8006", 0, "The security credential is locked", ErrUnauthorized),
	)
}()

// withAPI returns the rows of t as rows of api.
func withAPI(api API, t codeTable) codeTable {
	out := make(codeTable, len(t))
	for i, e := range t {
		e.api = api
		out[i] = e
	}
	return out
}
