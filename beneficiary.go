package mpesa

import "context"

// BeneficiaryNameRequest asks for the registered name of a customer before
// paying them.
type BeneficiaryNameRequest struct {
	// CustomerMSISDN is the customer's number with country code.
	CustomerMSISDN string
	// ServiceProviderCode defaults to WithServiceProviderCode.
	ServiceProviderCode string
	// ThirdPartyConversationID is this query's reference; generated when
	// empty (Mozambique: input_ThirdPartyReference).
	ThirdPartyConversationID string
	// Country defaults to the client's market (OpenAPI v2 only).
	Country string
}

// BeneficiaryNameResponse holds the customer's name as the gateway gives it.
// The Mozambique gateway masks names (for example "J*** D***").
type BeneficiaryNameResponse struct {
	ConversationID           string
	ThirdPartyConversationID string
	ResponseCode             string
	ResponseDesc             string
	FirstName                string
	LastName                 string
	// Name is the whole name when the gateway sends it in one field
	// (output_CustomerName on Mozambique); otherwise first and last name
	// joined.
	Name string
}

// Async reports whether the answer was the asynchronous one: the name comes
// by callback.
func (r *BeneficiaryNameResponse) Async() bool {
	return r.FirstName == "" && r.LastName == "" && r.Name == ""
}

// kycQueryName is the only KYC query type the portal documents. The
// parameter table and the code snippets spell the key input_KycQueryType;
// only the sample query string writes input_KYCQueryType. Two sources
// against one, and the table is the normative part of the page.
const kycQueryName = "Name"

// BeneficiaryName queries a customer's name: GET queryBeneficiaryName/ on
// OpenAPI v2, GET queryCustomerName/ (port 19323) on Mozambique. The
// portal's market table for this API lists only Vodafone Ghana; other
// markets may answer INS-998 (ErrInvalidMarket), which the client leaves to
// the gateway to decide.
func (c *Client) BeneficiaryName(ctx context.Context, req BeneficiaryNameRequest) (*BeneficiaryNameResponse, error) {
	ref := referenceOrNew(req.ThirdPartyConversationID)
	spc := orDefault(req.ServiceProviderCode, c.serviceProviderCode)
	k := checker{api: APIBeneficiaryName}
	k.msisdn(c.gateway, "CustomerMSISDN", req.CustomerMSISDN)
	k.shortcode("ServiceProviderCode", spc)
	k.reference("ThirdPartyConversationID", ref, 40)
	var p params
	p.add("input_CustomerMSISDN", req.CustomerMSISDN)
	p.add("input_ServiceProviderCode", spc)
	p.add(c.referenceKey(), ref)
	if c.gateway == GatewayOpenAPI {
		country := orDefault(req.Country, c.market.Country())
		k.country("Country", country)
		p.add("input_Country", country)
		p.add("input_KycQueryType", kycQueryName)
	}
	if err := k.err(); err != nil {
		return nil, err
	}
	out, err := c.do(ctx, APIBeneficiaryName, p.sorted(), ref)
	if err != nil {
		return nil, err
	}
	r := &BeneficiaryNameResponse{
		ConversationID:           string(out.ConversationID),
		ThirdPartyConversationID: orDefault(out.reference(), ref),
		ResponseCode:             string(out.ResponseCode),
		ResponseDesc:             string(out.ResponseDesc),
		FirstName:                orDefault(string(out.CustomerFirstName), string(out.FirstName)),
		LastName:                 orDefault(string(out.CustomerLastName), string(out.SecondName)),
		Name:                     string(out.CustomerName),
	}
	if r.Name == "" && (r.FirstName != "" || r.LastName != "") {
		r.Name = r.FirstName
		if r.LastName != "" {
			if r.Name != "" {
				r.Name += " "
			}
			r.Name += r.LastName
		}
	}
	return r, nil
}
