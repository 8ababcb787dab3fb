package mpesa

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/mpesa-go/mpesa/internal/wire"
)

// The products only Daraja offers: account balance, C2B URL registration
// and simulation, and the Pull API (docs/gateways.md D12, D14, D17, D22).

func (d *daraja) accountBalance(ctx context.Context, req *AccountBalanceRequest) (*AccountBalanceResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, d.c.serviceProviderCode)
	rem := orDefault(req.Remarks, "Account balance")
	k := d.checker(APIAccountBalance)
	k.shortcode("ServiceProviderCode", spc)
	k.check("Remarks", rem, remarks)
	k.text("ThirdPartyConversationID", ref)
	p := make(params, 0, darajaMaxFields)
	d.initiatorFields(&k, &p, "Initiator")
	p.add("CommandID", "AccountBalance")
	p.add("PartyA", spc)
	p.add("IdentifierType", "4")
	p.add("Remarks", rem)
	d.resultURLs(&k, &p, req.ResultURL, req.QueueTimeoutURL)
	out := new(darajaOutput)
	if err := d.send(ctx, &k, p, ref, out, false); err != nil {
		return nil, err
	}
	return &AccountBalanceResponse{
		ConversationID:           out.ConversationID,
		OriginatorConversationID: out.OriginatorConversationID,
		ThirdPartyConversationID: ref,
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDescription,
	}, nil
}

func (d *daraja) registerC2BURLs(ctx context.Context, req *RegisterC2BURLsRequest) (*RegisterC2BURLsResponse, error) {
	spc := orDefault(req.ShortCode, d.c.serviceProviderCode)
	k := d.checker(APIC2BRegister)
	k.shortcode("ShortCode", spc)
	k.check("ResponseType", req.ResponseType, responseTypes)
	p := make(params, 0, darajaMaxFields)
	p.add("ShortCode", spc)
	p.add("ResponseType", req.ResponseType)
	p.add("ConfirmationURL", d.callbackURL(&k, "ConfirmationURL", req.ConfirmationURL, "", "the request"))
	p.add("ValidationURL", d.callbackURL(&k, "ValidationURL", req.ValidationURL, "", "the request"))
	out := new(darajaOutput)
	if err := d.send(ctx, &k, p, "", out, false); err != nil {
		return nil, err
	}
	return &RegisterC2BURLsResponse{
		OriginatorConversationID: out.OriginatorConversationID,
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDescription,
	}, nil
}

func (d *daraja) simulateC2B(ctx context.Context, req *SimulateC2BRequest) (*SimulateC2BResponse, error) {
	spc := orDefault(req.ShortCode, d.c.serviceProviderCode)
	cmd := orDefault(req.CommandID, CommandCustomerPayBillOnline)
	k := d.checker(APIC2BSimulate)
	k.shortcode("ShortCode", spc)
	k.check("CommandID", cmd, simulateCommands)
	k.check("Amount", req.Amount, anyAmount)
	k.msisdn("MSISDN", req.MSISDN)
	optional(&k, "BillRefNumber", req.BillRefNumber, billRef)
	p := make(params, 0, darajaMaxFields)
	p.add("ShortCode", spc)
	p.add("CommandID", cmd)
	p.add("Amount", req.Amount)
	p.add("Msisdn", req.MSISDN)
	p.addOptional("BillRefNumber", req.BillRefNumber)
	out := new(darajaOutput)
	if err := d.send(ctx, &k, p, "", out, false); err != nil {
		return nil, err
	}
	return &SimulateC2BResponse{
		ConversationID:           out.ConversationID,
		OriginatorConversationID: out.OriginatorConversationID,
		ResponseCode:             out.ResponseCode,
		ResponseDesc:             out.ResponseDescription,
	}, nil
}

func (d *daraja) pullRegister(ctx context.Context, req *PullRegisterRequest) (*PullRegisterResponse, error) {
	spc := orDefault(req.ShortCode, d.c.serviceProviderCode)
	k := d.checker(APIPullRegister)
	k.shortcode("ShortCode", spc)
	k.msisdn("NominatedNumber", req.NominatedNumber)
	p := make(params, 0, darajaMaxFields)
	p.add("ShortCode", spc)
	p.add("RequestType", "Pull")
	p.add("NominatedNumber", req.NominatedNumber)
	p.add("CallBackURL", d.callbackURL(&k, "CallbackURL", req.CallbackURL, "", "the request"))
	out := new(darajaOutput)
	if err := d.send(ctx, &k, p, "", out, false); err != nil {
		return nil, err
	}
	return &PullRegisterResponse{
		ResponseRefID:  out.ResponseRefID,
		ResponseStatus: orDefault(out.ResponseStatus, out.ResponseCode),
		ShortCode:      out.ShortCode,
		ResponseDesc:   orDefault(out.ResponseDescription, out.ResponseMessage),
	}, nil
}

// pullDateLayout is how the Pull API writes a date, in EAT.
const pullDateLayout = "2006-01-02 15:04:05"

func (d *daraja) pullQuery(ctx context.Context, req *PullQueryRequest) (*PullQueryResponse, error) {
	spc := orDefault(req.ShortCode, d.c.serviceProviderCode)
	k := d.checker(APIPullQuery)
	k.shortcode("ShortCode", spc)
	switch {
	case req.StartDate.IsZero():
		k.fail("StartDate", "is required", "")
	case req.EndDate.IsZero():
		k.fail("EndDate", "is required", "")
	case !req.EndDate.After(req.StartDate):
		k.fail("EndDate", "must be after StartDate", req.EndDate.In(eat).Format(pullDateLayout))
	case req.EndDate.Sub(req.StartDate) > MaxPullWindow:
		k.fail("EndDate", "must be at most 48 hours after StartDate: Daraja keeps 48 hours", req.EndDate.In(eat).Format(pullDateLayout))
	}
	if req.Offset < 0 {
		k.fail("Offset", "must not be negative", strconv.Itoa(req.Offset))
	}
	p := make(params, 0, darajaMaxFields)
	p.add("ShortCode", spc)
	p.add("StartDate", req.StartDate.In(eat).Format(pullDateLayout))
	p.add("EndDate", req.EndDate.In(eat).Format(pullDateLayout))
	p.add("OffSetValue", strconv.Itoa(req.Offset))
	out := new(darajaOutput)
	if err := d.send(ctx, &k, p, "", out, false); err != nil {
		return nil, err
	}
	res := &PullQueryResponse{
		ResponseRefID: out.ResponseRefID,
		ResponseCode:  orDefault(out.ResponseCode, out.ResponseStatus),
		ResponseDesc:  orDefault(out.ResponseMessage, out.ResponseDescription),
	}
	for _, raw := range []string{out.Response, out.Transaction} {
		txs, err := pullTransactions(raw, 0)
		if err != nil {
			return nil, d.c.unexpected(&request{api: APIPullQuery}, 200, []byte(raw), err, false)
		}
		res.Transactions = append(res.Transactions, txs...)
	}
	return res, nil
}

// pullTransactions reads the transactions of a pull answer: an array of
// arrays of objects as the 2017 summary shows it ([[{…}]]), a flat array,
// or the same JSON sent as a string ("[[]]" when there are none).
func pullTransactions(raw string, depth int) ([]PullTransaction, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	if depth > 3 {
		return nil, errors.New("transactions nested too deep")
	}
	var out []PullTransaction
	err := wire.Elements(raw, func(v string) error {
		switch {
		case strings.HasPrefix(v, "["):
			txs, err := pullTransactions(v, depth+1)
			out = append(out, txs...)
			return err
		case strings.HasPrefix(v, "{"):
			var t PullTransaction
			err := wire.Members(v, func(key, val string) error {
				switch key {
				case "transactionId":
					t.TransactionID = val
				case "trxDate":
					t.TransactionDate = val
				case "msisdn":
					t.MSISDN = val
				case "sender":
					t.Sender = val
				case "transactiontype":
					t.TransactionType = val
				case "billreference":
					t.BillReference = val
				case "amount":
					t.Amount = val
				case "organizationname":
					t.OrganizationName = val
				default:
					if t.Extra == nil {
						t.Extra = map[string]string{}
					}
					t.Extra[key] = val
				}
				return nil
			})
			out = append(out, t)
			return err
		}
		return errors.New("a transaction is neither an object nor a list")
	})
	return out, err
}
