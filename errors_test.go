package mpesa

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLookupCodeDependsOnGateway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		g    Gateway
		api  API
		code string
		desc string
		kind error
	}{
		{GatewayMozambique, APIC2B, "INS-26", "Not authorized", ErrUnauthorized},
		{GatewayOpenAPI, APIC2B, "INS-26", "Invalid Currency Used", ErrInvalidRequest},
		{GatewayMozambique, APIC2B, "INS-993", "Direct Debit Missing", ErrMandateNotFound},
		{GatewayOpenAPI, APIC2B, "INS-993", "Organization Transaction Count Limit Breached", ErrLimitBreached},
		{GatewayMozambique, APIC2B, "INS-997", "Linking Transaction Not Found", ErrTransactionNotFound},
		{GatewayOpenAPI, APIC2B, "INS-997", "API Not Enabled", ErrAPINotEnabled},
		{GatewayOpenAPI, APIC2B, "INS-998", "Invalid Market", ErrInvalidMarket},
		{GatewayMozambique, APIC2B, "INS-5", "Transaction cancelled by customer", ErrCancelledByCustomer},
		{GatewayOpenAPI, APIC2B, "INS-6", "Transaction Failed", ErrTransactionFailed},
		{GatewayOpenAPI, APIDirectDebitCancel, "INS-6", "Mandate does not exist", ErrMandateNotFound},
		{GatewayOpenAPI, APIGetSession, "INS-989", "Session Creation Failed", ErrSessionCreation},
		{GatewayMozambique, APIB2C, "INS-2006", "Insufficient balance", ErrInsufficientBalance},
		{GatewayMozambique, APIC2B, "INS-16", "Unable to handle the request due to a temporary overloading", ErrOverloaded},
		{GatewayMozambique, APIC2B, "INS-9", "Request timeout", ErrPromptTimeout},
		{GatewayOpenAPI, APIB2B, "INS-10", "Duplicate Transaction", ErrDuplicate},
		{GatewayOpenAPI, APIB2B, "INS-2051", "MSISDN invalid.", ErrInvalidMSISDN},
	}
	for _, tt := range tests {
		c, ok := LookupCode(tt.g, tt.api, tt.code)
		if assert.True(t, ok, "%v %s", tt.g, tt.code) {
			assert.Equal(t, tt.desc, c.Description, "%v %s", tt.g, tt.code)
			assert.Equal(t, tt.kind, c.Kind, "%v %s", tt.g, tt.code)
			assert.Equal(t, tt.g, c.Gateway)
		}
	}
	_, ok := LookupCode(GatewayOpenAPI, APIC2B, "INS-5")
	assert.False(t, ok, "INS-5 is a Mozambique code")
	c, ok := LookupCode(GatewayMozambique, APIC2B, "0")
	assert.True(t, ok)
	assert.Equal(t, "INS-0", c.Code)
}

// TestCodeTableIsConsistent guards the table against typos: one entry per
// code and gateway, every code well formed, every status documented.
func TestCodeTableIsConsistent(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for g, table := range map[Gateway]codeTable{GatewayOpenAPI: openAPICodes, GatewayMozambique: mozambiqueCodes} {
		for _, c := range table {
			k := g.String() + c.api.String() + c.info.Code
			assert.False(t, seen[k], "duplicate %s", k)
			seen[k] = true
			assert.Regexp(t, `^INS-\d+$`, c.info.Code)
			assert.Contains(t, []int{200, 400, 401, 408, 409, 422, 500, 503}, c.info.HTTPStatus, k)
			assert.NotEmpty(t, c.info.Description, k)
		}
	}
}

func TestErrorIsAndAs(t *testing.T) {
	t.Parallel()
	e := &Error{Gateway: GatewayOpenAPI, API: APIC2B, HTTPStatus: 400, Code: "INS-2051", Description: "MSISDN invalid.",
		ThirdPartyConversationID: "ref1"}
	e.add(ErrInvalidMSISDN)
	var err error = fmt.Errorf("charging: %w", e)
	assert.ErrorIs(t, err, ErrInvalidMSISDN)
	assert.ErrorIs(t, err, ErrInvalidRequest, "a narrow sentinel matches its class")
	assert.NotErrorIs(t, err, ErrDuplicate)
	var got *Error
	assert.ErrorAs(t, err, &got)
	assert.Equal(t, "ref1", got.ThirdPartyConversationID)
	assert.Equal(t, "mpesa: openapi-v2 c2b: INS-2051 MSISDN invalid. (HTTP=400, ThirdPartyConversationID=ref1)", e.Error())

	unknown := &Error{Gateway: GatewayMozambique, API: APIB2C, ThirdPartyConversationID: "r2", Err: context.DeadlineExceeded}
	unknown.add(ErrOutcomeUnknown)
	assert.ErrorIs(t, unknown, ErrOutcomeUnknown)
	assert.ErrorIs(t, unknown, context.DeadlineExceeded, "the cause is unwrapped")
	assert.Equal(t, "mpesa: mozambique-v1x b2c: outcome unknown (reconcile with a status query): context deadline exceeded (ThirdPartyConversationID=r2)", unknown.Error())

	// Gateway text is redacted: a phone number in a description is masked.
	leaky := &Error{Gateway: GatewayOpenAPI, API: APIC2B, Code: "INS-2051", Description: "MSISDN 255744553111 invalid"}
	assert.NotContains(t, leaky.Error(), "255744553111")
	assert.Contains(t, leaky.Error(), "255******111")
}

func TestValidationError(t *testing.T) {
	t.Parallel()
	v := &ValidationError{API: APIC2B, Fields: []FieldError{
		{Field: "Amount", Rule: `must match ^\d*\.?\d+$`, Value: "1,5"},
		{Field: "CustomerMSISDN", Rule: "required"},
	}}
	var err error = fmt.Errorf("wrap: %w", v)
	assert.ErrorIs(t, err, ErrInvalidRequest)
	var got *ValidationError
	assert.True(t, errors.As(err, &got))
	assert.Len(t, got.Fields, 2)
	assert.Equal(t, `mpesa: invalid c2b request: Amount must match ^\d*\.?\d+$ (got "1,5"); CustomerMSISDN required`, v.Error())
}
