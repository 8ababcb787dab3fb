package mpesatest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// rawPost sends a C2B with ctx and returns what came back, errors included,
// for the scenarios that break the answer.
func (c *raw) rawPost(ctx context.Context, params map[string]string) (*http.Response, []byte, error) {
	data, err := json.Marshal(params)
	require.NoError(c.t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.srv.URL()+c.path("c2bPayment/singleStage/"), bytes.NewReader(data))
	require.NoError(c.t, err)
	c.setHeaders(req)
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestScenarioCodes(t *testing.T) {
	srv := newServer(t)
	c := openAPI(t, srv, mpesa.MarketTanzania)

	srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "INS-16"}, mpesatest.Scenario{Code: "INS-997"})
	assert.Equal(t, 2, srv.PendingScenarios(mpesa.APIC2B))

	status, out := c.call(http.MethodPost, oaB2C.path, oaB2C.valid("sc0"))
	assert.Equal(t, http.StatusCreated, status, "another API is not affected: %v", out)
	status, out = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("sc1"))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "INS-16", out["output_ResponseCode"])
	assert.Equal(t, "sc1", out["output_ThirdPartyConversationID"])
	status, out = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("sc1"))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "INS-997", out["output_ResponseCode"])
	status, out = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("sc1"))
	assert.Equal(t, http.StatusCreated, status, "nothing was processed, so the reference is free: %v", out)
	assert.Equal(t, 0, srv.PendingScenarios(mpesa.APIC2B))

	t.Run("a business outcome records the payment", func(t *testing.T) {
		srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "INS-2006"})
		status, out := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("sc2"))
		assert.Equal(t, http.StatusUnprocessableEntity, status)
		assert.Equal(t, "N/A", out["output_TransactionID"])
		txn, ok := srv.Transaction("sc2")
		require.True(t, ok)
		assert.Equal(t, mpesa.StatusFailed, txn.Status)
		assert.Equal(t, "INS-2006", txn.ResultCode)
		status, _ = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("sc2"))
		assert.Equal(t, http.StatusConflict, status)
	})
	t.Run("processed, then answered with an error", func(t *testing.T) {
		srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "INS-1", Processed: true})
		status, out := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("sc3"))
		assert.Equal(t, http.StatusBadRequest, status, "OpenAPI pairs INS-1 with 400")
		assert.Equal(t, "INS-1", out["output_ResponseCode"])
		assert.NotEmpty(t, out["output_TransactionID"], "the real answer's references are kept")
		txn, ok := srv.Transaction("sc3")
		require.True(t, ok)
		assert.Equal(t, mpesa.StatusCompleted, txn.Status)
	})
	t.Run("status override and undocumented codes", func(t *testing.T) {
		assert.Panics(t, func() { srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "INS-12345"}) })
		assert.Panics(t, func() { srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.Fault(99)}) })
		srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "INS-12345", Status: http.StatusTeapot})
		status, out := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("sc4"))
		assert.Equal(t, http.StatusTeapot, status)
		assert.Equal(t, "INS-12345", out["output_ResponseCode"])
	})
	t.Run("getSession", func(t *testing.T) {
		srv.Next(mpesa.APIGetSession, mpesatest.Scenario{Code: "INS-989"})
		status, out := c.call(http.MethodGet, "getSession/", nil)
		assert.Equal(t, http.StatusBadRequest, status, "a session is no API key: %v", out)
		assert.Equal(t, 1, srv.PendingScenarios(mpesa.APIGetSession), "the scenario waits for a call with the API key")
		key := *c
		key.authz = bearer(t, srv, srv.APIKey())
		status, out = key.call(http.MethodGet, "getSession/", nil)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, map[string]string{"output_ResponseCode": "INS-989", "output_ResponseDesc": "Session Creation Failed"}, out)
	})
	t.Run("Mozambique statuses", func(t *testing.T) {
		mz := mozambique(t, srv)
		srv.Next(mpesa.APIC2B, mpesatest.Scenario{Code: "INS-1"}, mpesatest.Scenario{Code: "INS-5"})
		status, out := mz.call(http.MethodPost, "c2bPayment/singleStage/", mozC2B("msc1"))
		assert.Equal(t, http.StatusInternalServerError, status, "Mozambique pairs INS-1 with 500")
		assert.Equal(t, "msc1", out["output_ThirdPartyReference"])
		status, out = mz.call(http.MethodPost, "c2bPayment/singleStage/", mozC2B("msc2"))
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "Transaction cancelled by customer", out["output_ResponseDesc"])
	})
}

func TestScenarioFaults(t *testing.T) {
	srv := newServer(t)
	c := openAPI(t, srv, mpesa.MarketTanzania)
	bg := context.Background()

	t.Run("hang until the client gives up", func(t *testing.T) {
		srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultHang})
		ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
		defer cancel()
		_, _, err := c.rawPost(ctx, c2bTZ("f1"))
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
		_, ok := srv.Transaction("f1")
		assert.False(t, ok, "not processed")
	})
	t.Run("hang after processing", func(t *testing.T) {
		srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultHang, Processed: true})
		ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
		defer cancel()
		_, _, err := c.rawPost(ctx, c2bTZ("f2"))
		require.Error(t, err)
		txn, ok := srv.Transaction("f2")
		require.True(t, ok, "the gateway did the work; only the answer was lost")
		assert.Equal(t, mpesa.StatusCompleted, txn.Status)
	})
	t.Run("reset", func(t *testing.T) {
		srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultReset})
		_, _, err := c.rawPost(bg, c2bTZ("f3"))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "deadline")
	})
	t.Run("html", func(t *testing.T) {
		srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultHTML, Status: http.StatusForbidden})
		resp, body, err := c.rawPost(bg, c2bTZ("f4"))
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.True(t, strings.HasPrefix(string(body), "<!DOCTYPE html>"))
	})
	t.Run("empty body", func(t *testing.T) {
		srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultEmptyBody})
		resp, body, err := c.rawPost(bg, c2bTZ("f5"))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Empty(t, body)
	})
	t.Run("truncated body", func(t *testing.T) {
		srv.Next(mpesa.APIC2B, mpesatest.Scenario{Fault: mpesatest.FaultTruncatedBody, Processed: true})
		resp, body, err := c.rawPost(bg, c2bTZ("f6"))
		require.NotNil(t, resp)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.True(t, strings.HasPrefix(string(body), `{"output_`), "%q", body)
		assert.Error(t, json.Unmarshal(body, new(map[string]string)))
		_, ok := srv.Transaction("f6")
		assert.True(t, ok)
	})

	// The journal shows what each call met.
	var faults []mpesatest.Fault
	for _, call := range srv.CallsTo(mpesa.APIC2B) {
		if call.Scenario != nil {
			faults = append(faults, call.Scenario.Fault)
		}
	}
	assert.Equal(t, []mpesatest.Fault{mpesatest.FaultHang, mpesatest.FaultHang, mpesatest.FaultReset,
		mpesatest.FaultHTML, mpesatest.FaultEmptyBody, mpesatest.FaultTruncatedBody}, faults)
	for _, call := range srv.CallsTo(mpesa.APIC2B)[:3] {
		assert.Zero(t, call.Status, "no answer")
	}
	assert.Equal(t, "hang", mpesatest.FaultHang.String())
}

func TestCustomers(t *testing.T) {
	srv := newServer(t)
	oa := openAPI(t, srv, mpesa.MarketTanzania)
	mz := mozambique(t, srv)
	cases := []struct {
		c      *raw
		api    string
		msisdn string
		status int
		code   string
		desc   string
	}{
		{oa, "c2bPayment/singleStage/", mpesatest.MSISDNSuccess, 201, "INS-0", "Request processed successfully"},
		{oa, "c2bPayment/singleStage/", mpesatest.MSISDNRejected, 401, "INS-6", "Transaction Failed"},
		{oa, "c2bPayment/singleStage/", mpesatest.MSISDNCancelled, 401, "INS-6", "Transaction Failed"},
		{oa, "c2bPayment/singleStage/", mpesatest.MSISDNPromptTimeout, 408, "INS-9", "Request timeout"},
		{oa, "c2bPayment/singleStage/", mpesatest.MSISDNInsufficientBalance, 422, "INS-2006", "Insufficient balance"},
		{oa, "c2bPayment/singleStage/", "255744553111", 201, "INS-0", "Request processed successfully"},
		{oa, "b2cPayment/", mpesatest.MSISDNRejected, 401, "INS-6", "Transaction Failed"},
		{oa, "b2cPayment/", mpesatest.MSISDNPromptTimeout, 201, "INS-0", "Request processed successfully"},
		{mz, "c2bPayment/singleStage/", mpesatest.MozambiqueMSISDNSuccess, 201, "INS-0", "Request processed successfully"},
		{mz, "c2bPayment/singleStage/", mpesatest.MozambiqueMSISDNRejected, 401, "INS-6", "Transaction Failed"},
		{mz, "c2bPayment/singleStage/", mpesatest.MozambiqueMSISDNCancelled, 401, "INS-5", "Transaction cancelled by customer"},
		{mz, "c2bPayment/singleStage/", mpesatest.MozambiqueMSISDNPromptTimeout, 408, "INS-9", "Request timeout"},
		{mz, "c2bPayment/singleStage/", mpesatest.MozambiqueMSISDNInsufficientBalance, 422, "INS-2006", "Insufficient balance"},
		{mz, "b2cPayment/", mpesatest.MozambiqueMSISDNInsufficientBalance, 201, "INS-0", "Request processed successfully"},
	}
	var refs seq
	for _, tc := range cases {
		ref := refs.next("cu")
		var p map[string]string
		if tc.c.gw == mpesa.GatewayMozambique {
			p = with(mozC2B(ref), "input_CustomerMSISDN", tc.msisdn)
		} else {
			p = with(oaB2C.valid(ref), "input_CustomerMSISDN", tc.msisdn)
			if tc.api == "c2bPayment/singleStage/" {
				p = with(c2bTZ(ref), "input_CustomerMSISDN", tc.msisdn)
			}
		}
		status, out := tc.c.call(http.MethodPost, tc.api, p)
		assert.Equal(t, tc.status, status, "%s %s %s", tc.c.gw, tc.api, tc.msisdn)
		assert.Equal(t, tc.code, out["output_ResponseCode"], "%s %s %s", tc.c.gw, tc.api, tc.msisdn)
		assert.Equal(t, tc.desc, out["output_ResponseDesc"])
	}

	srv.SetCustomer("255700000009", mpesatest.Customer{Outcome: mpesatest.OutcomePromptTimeout, FirstName: "Asha", LastName: "Mwinyi"})
	status, _ := oa.call(http.MethodPost, "c2bPayment/singleStage/", with(c2bTZ("cu99"), "input_CustomerMSISDN", "255700000009"))
	assert.Equal(t, http.StatusRequestTimeout, status)

	gh := openAPI(t, srv, mpesa.MarketGhana)
	status, out := gh.call(http.MethodGet, oaBeneficiary.path, with(oaBeneficiary.valid("cu100"), "input_CustomerMSISDN", "255700000009"))
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, "Asha", out["output_CustomerFirstName"])
	assert.Equal(t, "Mwinyi", out["output_CustomerLastName"])

	srv.SetCustomer("258841234567", mpesatest.Customer{FirstName: "John", LastName: "Smith"})
	status, out = mz.call(http.MethodGet, mzCustomerName.path, with(mzCustomerName.valid("cu101"), "input_CustomerMSISDN", "258841234567"))
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, "Jo*n Sm**h", out["output_CustomerName"])
	_, out = mz.call(http.MethodGet, mzCustomerName.path, mzCustomerName.valid("cu102"))
	assert.Equal(t, "Te*t Cu*****r", out["output_CustomerName"], "the default names, masked")

	assert.Equal(t, "prompt timeout", mpesatest.OutcomePromptTimeout.String())
}
