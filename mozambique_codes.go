package mpesa

// mozambiqueCodes is the full response-code table of the Mozambique
// documents, with its HTTP statuses. It is repeated in all three Mozambique
// documents; the short "Common Response Codes" list of one of them
// contradicts it and is not followed (docs/gateways.md M10, M11).
var mozambiqueCodes = codeTable{
	row("INS-0", 200, "Request processed successfully", nil),
	row("INS-1", 500, "Internal Error", ErrInternal),
	row("INS-2", 401, "Invalid API Key", ErrUnauthorized),
	row("INS-4", 401, "User is not active", ErrUnauthorized),
	row("INS-5", 401, "Transaction cancelled by customer", ErrCancelledByCustomer),
	row("INS-6", 401, "Transaction Failed", ErrTransactionFailed),
	row("INS-9", 408, "Request timeout", ErrPromptTimeout),
	row("INS-10", 409, "Duplicate Transaction", ErrDuplicate),
	row("INS-13", 400, "Invalid Shortcode Used", ErrInvalidRequest),
	row("INS-14", 400, "Invalid Reference Used", ErrInvalidRequest),
	row("INS-15", 400, "Invalid Amount Used", ErrInvalidRequest),
	row("INS-16", 503, "Unable to handle the request due to a temporary overloading", ErrOverloaded),
	row("INS-17", 400, "Invalid Transaction Reference. Length Should Be Between 1 and 20.", ErrInvalidRequest),
	row("INS-18", 400, "Invalid TransactionID Used", ErrInvalidRequest),
	row("INS-19", 400, "Invalid ThirdPartyReference Used", ErrInvalidRequest),
	row("INS-20", 400, "Not All Parameters Provided. Please try again.", ErrInvalidRequest),
	row("INS-21", 400, "Parameter validations failed. Please try again.", ErrInvalidRequest),
	row("INS-22", 400, "Invalid Operation Type", ErrInvalidRequest),
	{info: Code{Code: "INS-23", HTTPStatus: 400, Description: "Unknown Status. Contact M-Pesa Support"}, unknownOutcome: true},
	row("INS-24", 400, "Invalid InitiatorIdentifier Used", ErrInvalidRequest),
	row("INS-25", 400, "Invalid SecurityCredential Used", ErrInvalidRequest),
	row("INS-26", 400, "Not authorized", ErrUnauthorized),
	row("INS-993", 400, "Direct Debit Missing", ErrMandateNotFound),
	row("INS-994", 400, "Direct Debit Already Exists", nil),
	row("INS-995", 400, "Customer's Profile Has Problems", nil),
	row("INS-996", 400, "Customer Account Status Not Active", nil),
	row("INS-997", 400, "Linking Transaction Not Found", ErrTransactionNotFound),
	row("INS-998", 400, "Invalid Market", ErrInvalidMarket),
	row("INS-2001", 400, "Initiator authentication error.", ErrUnauthorized),
	row("INS-2002", 400, "Receiver invalid.", ErrInvalidRequest),
	row("INS-2006", 422, "Insufficient balance", ErrInsufficientBalance),
	row("INS-2051", 400, "MSISDN invalid.", ErrInvalidMSISDN),
	row("INS-2057", 400, "Language code invalid.", ErrInvalidRequest),
}
