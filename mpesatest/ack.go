package mpesatest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/internal/redact"
)

// The acknowledgement a listener owes a result callback, as each product's
// document shows it:
//
//   - OpenAPI v2 developer portal, every product page: "It is expected that
//     the listener confirms receipt of the result by responding the below
//     content": output_OriginalConversationID (the callback's, echoed),
//     output_ResponseCode "0", output_ResponseDesc "Successfully Accepted
//     Result", output_ThirdPartyConversationID (the callback's, echoed).
//     The Query Direct Debit page alone shows output_ResponseCode "INS-0".
//   - Mozambique document 'Async response, callback and response codes',
//     "API Async Result Response" (and the "Required Response from Your
//     Endpoint" tables of the document 'C2B, B2C, B2B, Query Transaction
//     Status, Reversal'): output_OriginalConversationID ("This is the same
//     ID that is sent in the async request"), output_ResponseDesc,
//     output_ResponseCode "0", and output_ThirdPartyConversationID carrying
//     the callback's input_ThirdPartyReference (both tables give the field
//     that name and the reference's example value, 11114).
//
// The simulator accepts exactly that: both IDs echoed, a description that is
// not blank (its wording is the listener's), and the product's code. Every
// value must be a JSON string, the documents' "Type: String".

// ackCode is the output_ResponseCode an acknowledgement of the callbacks of
// api must carry.
func ackCode(g mpesa.Gateway, api mpesa.API) string {
	if g == mpesa.GatewayOpenAPI && api == mpesa.APIDirectDebitQuery {
		return "INS-0" // the Query Direct Debit page's example
	}
	return "0"
}

// ackProblems lists each way ack differs from the acknowledgement of rec that
// the documents ask for; nil when it is right. nonString names the fields
// that were not JSON strings.
func ackProblems(rec *Callback, ack map[string]string, nonString map[string]bool) []string {
	var out []string
	want := func(k, v, how string) {
		got, ok := ack[k]
		switch {
		case !ok:
			out = append(out, k+" is missing")
		case nonString[k]:
			out = append(out, k+" is not a JSON string")
		case got != v:
			out = append(out, k+" is "+strconv.Quote(got)+", want "+strconv.Quote(v)+" "+how)
		}
	}
	want("output_OriginalConversationID", rec.Params["input_OriginalConversationID"], "(the callback's input_OriginalConversationID)")
	want("output_ThirdPartyConversationID", rec.Params[refKey(rec.Gateway)], "(the callback's "+refKey(rec.Gateway)+")")
	want("output_ResponseCode", ackCode(rec.Gateway, rec.API), "")
	switch desc, ok := ack["output_ResponseDesc"]; {
	case !ok:
		out = append(out, "output_ResponseDesc is missing")
	case nonString["output_ResponseDesc"]:
		out = append(out, "output_ResponseDesc is not a JSON string")
	case strings.TrimSpace(desc) == "":
		out = append(out, "output_ResponseDesc is empty")
	}
	for i, p := range out {
		out[i] = strings.TrimSpace(p)
	}
	return out
}

// parseAck reads an acknowledgement: a JSON object whose values are kept as
// strings (a number or boolean as its JSON text, named in nonString).
func parseAck(data []byte) (ack map[string]string, nonString map[string]bool, err error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return nil, nil, errors.New("acknowledgement is not a JSON object")
	}
	ack = make(map[string]string, len(raw))
	for k, v := range raw {
		var str string
		if json.Unmarshal(v, &str) == nil {
			ack[k] = str
			continue
		}
		ack[k] = string(v)
		if nonString == nil {
			nonString = make(map[string]bool)
		}
		nonString[k] = true
	}
	return ack, nonString, nil
}

// logFailedAttempt reports a delivery attempt that did not count, at Warn
// level: the API, the callback URL without query, fragment or user
// information, the listener's status and the reason, with any run of digits
// long enough to be a phone number masked.
func (s *Server) logFailedAttempt(rec *Callback, at Attempt, reason string, attempt, max int) {
	s.logger().LogAttrs(context.Background(), slog.LevelWarn, "mpesatest: callback delivery failed",
		slog.String("gateway", rec.Gateway.String()),
		slog.String("api", rec.API.String()),
		slog.String("url", logURL(rec.URL)),
		slog.Int("status", at.Status),
		slog.Int("attempt", attempt),
		slog.Int("max_attempts", max),
		slog.String("reason", redact.Text(reason)),
	)
}

// logURL is the callback URL as a log line may show it: scheme, host and
// path.
func logURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return redact.Text(u.String())
}
