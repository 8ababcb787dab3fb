package mpesatest_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

func TestDuplicateReference(t *testing.T) {
	srv := newServer(t)
	c := openAPI(t, srv, mpesa.MarketTanzania)

	status, first := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("dup1"))
	require.Equal(t, http.StatusCreated, status, first)
	status, out := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("dup1"))
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, "INS-10", out["output_ResponseCode"])
	assert.Equal(t, "N/A", out["output_TransactionID"])
	assert.Equal(t, "dup1", out["output_ThirdPartyConversationID"])
	assert.NotEqual(t, first["output_ConversationID"], out["output_ConversationID"], "each request has a conversation of its own")

	// The reference is the idempotency key of every payment product.
	status, out = c.call(http.MethodPost, oaB2C.path, oaB2C.valid("dup1"))
	assert.Equal(t, http.StatusConflict, status, out)
	// But not across markets: a reference belongs to a market.
	ghana := openAPI(t, srv, mpesa.MarketGhana)
	status, out = ghana.call(http.MethodPost, "c2bPayment/singleStage/", with(c2bTZ("dup1"), "input_Country", "GHA", "input_Currency", "GHS"))
	assert.Equal(t, http.StatusCreated, status, out)

	// A refused request does not take its reference; a failed payment does.
	status, _ = c.call(http.MethodPost, "c2bPayment/singleStage/", with(c2bTZ("dup2"), "input_Amount", "0"))
	require.Equal(t, http.StatusBadRequest, status)
	status, _ = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("dup2"))
	assert.Equal(t, http.StatusCreated, status)
	status, _ = c.call(http.MethodPost, "c2bPayment/singleStage/", with(c2bTZ("dup3"), "input_CustomerMSISDN", mpesatest.MSISDNRejected))
	require.Equal(t, http.StatusUnauthorized, status)
	status, out = c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("dup3"))
	assert.Equal(t, http.StatusConflict, status, out)

	mz := mozambique(t, srv)
	status, _ = mz.call(http.MethodPost, "c2bPayment/singleStage/", mozC2B("dup1"))
	assert.Equal(t, http.StatusCreated, status, "gateways do not share references")
	status, out = mz.call(http.MethodPost, "b2cPayment/", mozC2B("dup1"))
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, map[string]string{
		"output_ResponseCode":        "INS-10",
		"output_ResponseDesc":        "Duplicate Transaction",
		"output_ConversationID":      out["output_ConversationID"],
		"output_ThirdPartyReference": "dup1",
		"output_TransactionID":       "N/A",
	}, out)
}

func TestStatusFollowsThePayments(t *testing.T) {
	srv := newServer(t)
	c := openAPI(t, srv, mpesa.MarketTanzania)
	status, paid := c.call(http.MethodPost, "c2bPayment/singleStage/", c2bTZ("st1"))
	require.Equal(t, http.StatusCreated, status)
	assert.Regexp(t, `^[0-9a-f]{32}$`, paid["output_ConversationID"])
	assert.Regexp(t, `^[0-9a-z]{12}$`, paid["output_TransactionID"])

	query := func(q string) (int, map[string]string) {
		return c.call(http.MethodGet, oaStatus.path, with(oaStatus.valid("q"+q), "input_QueryReference", q))
	}
	for _, q := range []string{paid["output_TransactionID"], "st1", paid["output_ConversationID"]} {
		status, out := query(q)
		require.Equal(t, http.StatusOK, status, out)
		want := map[string]string{
			"output_ResponseCode":              "INS-0",
			"output_ResponseDesc":              "Request processed successfully",
			"output_ResponseTransactionStatus": "Completed",
			"output_ConversationID":            paid["output_ConversationID"],
			"output_ThirdPartyConversationID":  "q" + q,
			"output_OriginalTransactionID":     paid["output_TransactionID"],
			"output_Reversed":                  "False",
		}
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("status by %s (-want +got):\n%s", q, diff)
		}
	}

	for msisdn, want := range map[string]string{
		mpesatest.MSISDNRejected:            "Failed",
		mpesatest.MSISDNCancelled:           "Cancelled",
		mpesatest.MSISDNPromptTimeout:       "Expired",
		mpesatest.MSISDNInsufficientBalance: "Failed",
	} {
		ref := "st" + msisdn[8:]
		status, _ := c.call(http.MethodPost, "c2bPayment/singleStage/", with(c2bTZ(ref), "input_CustomerMSISDN", msisdn))
		require.NotEqual(t, http.StatusCreated, status)
		status, out := query(ref)
		require.Equal(t, http.StatusOK, status, out)
		assert.Equal(t, want, out["output_ResponseTransactionStatus"], msisdn)
		assert.Equal(t, "N/A", out["output_OriginalTransactionID"], "a failed payment has no TransactionID")
	}

	status, out := c.call(http.MethodGet, oaStatus.path, with(oaStatus.valid("q9"), "input_QueryReference", "st1", "input_ServiceProviderCode", "999999"))
	assert.Equal(t, http.StatusBadRequest, status, "another business's payment is not found")
	assert.Equal(t, "INS-23", out["output_ResponseCode"])

	require.True(t, srv.SetTransactionStatus("st1", mpesa.StatusPending))
	_, out = query("st1")
	assert.Equal(t, "Pending", out["output_ResponseTransactionStatus"])
	assert.False(t, srv.SetTransactionStatus("nope", mpesa.StatusPending))

	mz := mozambique(t, srv)
	status, mpaid := mz.call(http.MethodPost, "c2bPayment/singleStage/", mozC2B("mst1"))
	require.Equal(t, http.StatusCreated, status)
	assert.Regexp(t, `^AG_\d{8}_[0-9a-f]{20}$`, mpaid["output_ConversationID"])
	assert.Regexp(t, `^[0-9A-Z]{10}$`, mpaid["output_TransactionID"])
	for _, q := range []string{mpaid["output_TransactionID"], "mst1", mpaid["output_ConversationID"]} {
		status, out := mz.call(http.MethodGet, mzStatus.path, with(mzStatus.valid("mq"), "input_QueryReference", q))
		require.Equal(t, http.StatusOK, status, out)
		assert.Equal(t, []string{"output_ConversationID", "output_ResponseCode", "output_ResponseDesc",
			"output_ResponseTransactionStatus", "output_ThirdPartyReference"}, keys(out))
		assert.Equal(t, "Completed", out["output_ResponseTransactionStatus"])
	}
	status, _ = mz.call(http.MethodPost, "c2bPayment/singleStage/", with(mozC2B("mst2"), "input_CustomerMSISDN", mpesatest.MozambiqueMSISDNCancelled))
	require.Equal(t, http.StatusUnauthorized, status)
	_, out = mz.call(http.MethodGet, mzStatus.path, with(mzStatus.valid("mq"), "input_QueryReference", "mst2"))
	assert.Equal(t, "Cancelled", out["output_ResponseTransactionStatus"])
}

func TestReversal(t *testing.T) {
	srv := newServer(t)
	c := openAPI(t, srv, mpesa.MarketTanzania)
	pay := func(ref, amount string) string {
		t.Helper()
		status, out := c.call(http.MethodPost, "c2bPayment/singleStage/", with(c2bTZ(ref), "input_Amount", amount))
		require.Equal(t, http.StatusCreated, status, out)
		return out["output_TransactionID"]
	}
	reverse := func(ref, id string, changes ...string) (int, map[string]string) {
		t.Helper()
		p := with(oaReversal.valid(ref), "input_TransactionID", id, "input_ReversalAmount", "-")
		return c.call(http.MethodPut, oaReversal.path, with(p, changes...))
	}

	t.Run("full", func(t *testing.T) {
		id := pay("rf1", "10")
		status, out := reverse("rf1r", id)
		require.Equal(t, http.StatusCreated, status, out)
		assert.Regexp(t, `^[0-9a-z]{12}$`, out["output_TransactionID"])
		orig, ok := srv.Transaction(id)
		require.True(t, ok)
		assert.True(t, orig.Reversed)
		assert.Equal(t, "10", orig.ReversedAmount)
		rev, ok := srv.Transaction("rf1r")
		require.True(t, ok)
		assert.Equal(t, id, rev.OriginalTransactionID)
		assert.Equal(t, mpesa.APIReversal, rev.API)

		_, st := c.call(http.MethodGet, oaStatus.path, with(oaStatus.valid("rfq"), "input_QueryReference", id))
		assert.Equal(t, "True", st["output_Reversed"])
		assert.Equal(t, "Completed", st["output_ResponseTransactionStatus"])

		status, out = reverse("rf1r2", id)
		assert.Equal(t, http.StatusUnauthorized, status, "a transaction is reversed once")
		assert.Equal(t, "INS-6", out["output_ResponseCode"])
		status, out = reverse("rf1r3", out["output_TransactionID"])
		assert.Equal(t, http.StatusBadRequest, status, "the failed reversal has no TransactionID")
		assert.Equal(t, "INS-18", out["output_ResponseCode"])
		status, out = reverse("rf1r4", rev.TransactionID)
		assert.Equal(t, http.StatusUnauthorized, status, "a reversal is not reversed")
		assert.Equal(t, "INS-6", out["output_ResponseCode"])
	})
	t.Run("partial, once", func(t *testing.T) {
		id := pay("rp1", "10.50")
		status, out := reverse("rp1a", id, "input_ReversalAmount", "10.51")
		assert.Equal(t, http.StatusBadRequest, status, "more than the original")
		assert.Equal(t, "INS-15", out["output_ResponseCode"])
		status, out = reverse("rp1b", id, "input_ReversalAmount", "4.25")
		require.Equal(t, http.StatusCreated, status, out)
		orig, _ := srv.Transaction(id)
		assert.Equal(t, "4.25", orig.ReversedAmount)
		status, out = reverse("rp1c", id, "input_ReversalAmount", "1")
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "INS-6", out["output_ResponseCode"])
		status, out = reverse("rp1b", id)
		assert.Equal(t, http.StatusConflict, status, "the reversal's own reference is taken")
		assert.Equal(t, "INS-10", out["output_ResponseCode"])
	})
	t.Run("not yours, not known, not final", func(t *testing.T) {
		id := pay("rn1", "5")
		status, out := reverse("rn1a", id, "input_ServiceProviderCode", "123456")
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "INS-35", out["output_ResponseCode"])
		status, out = reverse("rn1b", "UNKNOWN123")
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "INS-18", out["output_ResponseCode"])
		require.True(t, srv.SetTransactionStatus(id, mpesa.StatusPending))
		status, out = reverse("rn1c", id)
		assert.Equal(t, http.StatusUnauthorized, status, "a pending payment cannot be reversed")
		assert.Equal(t, "INS-6", out["output_ResponseCode"])
	})
	t.Run("mozambique", func(t *testing.T) {
		mz := mozambique(t, srv)
		status, out := mz.call(http.MethodPost, "c2bPayment/singleStage/", mozC2B("mrv1"))
		require.Equal(t, http.StatusCreated, status)
		id := out["output_TransactionID"]
		status, out = mz.call(http.MethodPut, mzReversal.path, with(mzReversal.valid("mrv1r"), "input_TransactionID", id,
			"input_ServiceProviderCode", "999999"))
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "INS-997", out["output_ResponseCode"], "another business's transaction is not found")
		status, out = mz.call(http.MethodPut, mzReversal.path, with(mzReversal.valid("mrv1r"), "input_TransactionID", id, "input_ReversalAmount", "-"))
		require.Equal(t, http.StatusCreated, status, out)
		assert.Equal(t, "mrv1r", out["output_ThirdPartyReference"])
		status, _ = mz.call(http.MethodPut, mzReversal.path, with(mzReversal.valid("mrv1s"), "input_TransactionID", id))
		assert.Equal(t, http.StatusUnauthorized, status)
	})
}

var (
	reMsisdnToken = regexp.MustCompile(`^[0-9a-zA-Z \w=]{1,26}$`)
	reMandateID   = regexp.MustCompile(`^[0-9]{1,12}$`)
)

func TestMandateLifecycle(t *testing.T) {
	clk := newClock()
	// The expiry test moves the clock by days: the session must outlive it.
	srv := newServer(t, mpesatest.WithClock(clk.Now), mpesatest.WithSessionLifetime(30*24*time.Hour))
	c := openAPI(t, srv, mpesa.MarketGhana)
	var refs seq
	create := func(mandate, msisdn string, changes ...string) (int, map[string]string) {
		p := with(oaDDCreate.valid(refs.next("c")), "input_ThirdPartyReference", mandate, "input_CustomerMSISDN", msisdn)
		return c.call(http.MethodPost, oaDDCreate.path, with(p, changes...))
	}
	pay := func(mandate string, changes ...string) (int, map[string]string) {
		p := with(oaDDPayment.valid(refs.next("p")), "input_ThirdPartyReference", mandate, "input_MandateID", "-")
		return c.call(http.MethodPost, oaDDPayment.path, with(p, changes...))
	}
	query := func(mandate string, changes ...string) (int, map[string]string) {
		p := with(oaDDQuery.valid(refs.next("q")), "input_ThirdPartyReference", mandate, "input_ServiceProviderCode", "000000")
		return c.call(http.MethodGet, oaDDQuery.path, with(p, changes...))
	}
	cancel := func(mandate string, changes ...string) (int, map[string]string) {
		p := with(oaDDCancel.valid(refs.next("x")), "input_ThirdPartyReference", mandate, "input_MandateID", "-")
		return c.call(http.MethodPut, oaDDCancel.path, with(p, changes...))
	}

	status, created := create("Gym2024", mpesatest.MSISDNSuccess)
	require.Equal(t, http.StatusCreated, status, created)
	assert.Equal(t, []string{"output_ConversationID", "output_MandateID", "output_MsisdnToken", "output_ResponseCode",
		"output_ResponseDesc", "output_ThirdPartyConversationID", "output_TransactionReference"}, keys(created))
	token, mandateID := created["output_MsisdnToken"], created["output_MandateID"]
	assert.Regexp(t, reMsisdnToken, token, "the token must pass the documented rule when sent back")
	assert.Regexp(t, reMandateID, mandateID)
	assert.Regexp(t, `^[0-9a-z]{32}$`, created["output_TransactionReference"])

	status, out := create("Gym2024", mpesatest.MSISDNSuccess)
	assert.Equal(t, http.StatusConflict, status, "an active mandate reference is taken")
	assert.Equal(t, "INS-10", out["output_ResponseCode"])

	status, out = query("Gym2024")
	require.Equal(t, http.StatusOK, status, out)
	if diff := cmp.Diff(map[string]string{
		"output_ResponseCode":             "INS-0",
		"output_ResponseDesc":             "Request processed successfully",
		"output_ConversationID":           out["output_ConversationID"],
		"output_ThirdPartyConversationID": out["output_ThirdPartyConversationID"],
		"output_TransactionReference":     created["output_TransactionReference"],
		"output_MsisdnToken":              token,
		"output_MandateID":                mandateID,
		"output_MandateStatus":            "Active",
		"output_AccountStatus":            "Active",
		"output_SufficientBalance":        "True",
		"output_FirstPaymentDate":         "20240324",
		"output_Frequency":                "06",
		"output_PaymentDayFrom":           "01",
		"output_PaymentDayTo":             "22",
		"output_ExpiryDate":               "20991126",
	}, out); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	status, out = query("Gym2024", "input_CustomerMSISDN", "-", "input_MsisdnToken", token, "input_MandateID", mandateID)
	assert.Equal(t, http.StatusOK, status, "by token and mandate ID: %v", out)

	status, out = pay("Gym2024", "input_CustomerMSISDN", "-", "input_MsisdnToken", token)
	require.Equal(t, http.StatusCreated, status, out)
	assert.Equal(t, token, out["output_MsisdnToken"])
	txn, ok := srv.Transaction(out["output_TransactionID"])
	require.True(t, ok)
	assert.Equal(t, mpesa.StatusCompleted, txn.Status)
	assert.Equal(t, mpesa.APIDirectDebitPayment, txn.API)

	status, out = pay("Gym2024", "input_MsisdnToken", token, "input_CustomerMSISDN", "000000000077")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "INS-50", out["output_ResponseCode"])
	status, out = pay("Gym2024", "input_MsisdnToken", "AAAAAAAAAAAAAAAAAAAAAA==")
	assert.Equal(t, http.StatusUnauthorized, status, "a token never issued")
	assert.Equal(t, "INS-56", out["output_ResponseCode"])
	status, out = pay("Gym2024", "input_MandateID", "999999")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "INS-51", out["output_ResponseCode"])
	status, other := create("Club7", mpesatest.MSISDNSuccess)
	require.Equal(t, http.StatusCreated, status)
	status, out = pay("Gym2024", "input_MandateID", other["output_MandateID"])
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "INS-52", out["output_ResponseCode"])
	status, out = query("Gym2024", "input_MandateID", other["output_MandateID"])
	assert.Equal(t, http.StatusInternalServerError, status, "the query table pairs INS-52 with 500")
	assert.Equal(t, "INS-52", out["output_ResponseCode"])
	status, out = pay("Gym2024", "input_CustomerMSISDN", "000000000077")
	assert.Equal(t, http.StatusUnauthorized, status, "another customer has no mandate under this reference")
	assert.Equal(t, "INS-6", out["output_ResponseCode"], "the Direct Debit Payment page's code table")

	status, out = cancel("Gym2024", "input_MandateID", mandateID)
	require.Equal(t, http.StatusCreated, status, out)
	assert.Equal(t, "Gym2024", out["output_TransactionReference"])
	assert.Equal(t, token, out["output_MsisdnToken"])

	status, out = pay("Gym2024")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "INS-6", out["output_ResponseCode"])
	status, out = query("Gym2024")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "INS-58", out["output_ResponseCode"])
	status, out = cancel("Gym2024")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "INS-6", out["output_ResponseCode"])
	assert.Equal(t, "Mandate does not exist", out["output_ResponseDesc"])

	status, again := create("Gym2024", mpesatest.MSISDNSuccess)
	require.Equal(t, http.StatusCreated, status, "a cancelled reference can be used again")
	assert.NotEqual(t, mandateID, again["output_MandateID"])
	assert.Equal(t, token, again["output_MsisdnToken"], "a customer keeps the token")

	t.Run("customers", func(t *testing.T) {
		status, out := create("Rejected1", mpesatest.MSISDNRejected)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "INS-6", out["output_ResponseCode"])
		assert.Empty(t, out["output_MsisdnToken"], "only returned in successful messages")
		status, out = create("Timeout1", mpesatest.MSISDNPromptTimeout)
		assert.Equal(t, http.StatusRequestTimeout, status)
		assert.Equal(t, "INS-9", out["output_ResponseCode"])

		status, _ = create("Broke1", mpesatest.MSISDNInsufficientBalance)
		require.Equal(t, http.StatusCreated, status, "a mandate moves no money")
		_, out = query("Broke1", "input_CustomerMSISDN", mpesatest.MSISDNInsufficientBalance)
		assert.Equal(t, "False", out["output_SufficientBalance"])
		_, out = query("Broke1", "input_CustomerMSISDN", mpesatest.MSISDNInsufficientBalance, "input_QueryBalanceAmount", "False", "input_BalanceAmount", "-")
		assert.NotContains(t, out, "output_SufficientBalance", "not asked")
		status, out = pay("Broke1", "input_CustomerMSISDN", mpesatest.MSISDNInsufficientBalance)
		assert.Equal(t, http.StatusUnprocessableEntity, status)
		assert.Equal(t, "INS-2006", out["output_ResponseCode"])
	})

	t.Run("expiry", func(t *testing.T) {
		status, _ := create("Short1", mpesatest.MSISDNSuccess, "input_FirstPaymentDate", "20240514", "input_ExpiryDate", "20240515")
		require.Equal(t, http.StatusCreated, status)
		status, _ = pay("Short1")
		require.Equal(t, http.StatusCreated, status)
		clk.Advance(48 * time.Hour)
		status, out := pay("Short1")
		assert.Equal(t, http.StatusUnauthorized, status, "an expired mandate is not active")
		assert.Equal(t, "INS-6", out["output_ResponseCode"])
	})
}
