package mpesa_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// The bearer Client.Bearer returns is the one the gateway accepts: a call
// made by hand with it succeeds, on both gateways.
func TestBearerWorksForAHandMadeCall(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	srv := mpesatest.NewServer(mpesatest.WithKey(key))
	defer srv.Close()
	ctx := context.Background()
	paths := map[mpesa.Gateway]string{
		mpesa.GatewayOpenAPI:    "/sandbox/ipg/v2/vodacomTZN/queryTransactionStatus/?input_QueryReference=X1&input_ServiceProviderCode=000000&input_Country=TZN&input_ThirdPartyConversationID=Q1",
		mpesa.GatewayMozambique: "/ipg/v1x/queryTransactionStatus/?input_QueryReference=X1&input_ServiceProviderCode=171717&input_ThirdPartyReference=Q1",
	}
	origins := map[mpesa.Gateway]string{mpesa.GatewayOpenAPI: "*", mpesa.GatewayMozambique: mpesa.OriginMozambique}
	for _, g := range []mpesa.Gateway{mpesa.GatewayOpenAPI, mpesa.GatewayMozambique} {
		opts := srv.Options(g)
		if g == mpesa.GatewayOpenAPI {
			opts = append(opts, mpesa.WithMarket(mpesa.MarketTanzania))
		}
		client, err := mpesa.NewClient(srv.APIKey(), opts...)
		require.NoError(t, err)
		bearer, err := client.Bearer(ctx)
		require.NoError(t, err)
		assert.Equal(t, "[REDACTED]", fmt.Sprint(bearer), "it prints as a secret")

		ct, err := base64.StdEncoding.DecodeString(string(bearer))
		require.NoError(t, err)
		plain, err := rsa.DecryptPKCS1v15(nil, key, ct)
		require.NoError(t, err)
		if g == mpesa.GatewayMozambique {
			assert.Equal(t, srv.APIKey(), string(plain), "Mozambique: the encrypted API key")
		} else {
			assert.Len(t, plain, 32, "OpenAPI: the encrypted session ID")
			assert.Equal(t, 1, srv.SessionRequests())
		}

		req, err := http.NewRequest(http.MethodGet, srv.URL()+paths[g], nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+string(bearer))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origins[g])
		req.Header.Set("User-Agent", "curl/8")
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		// The transaction does not exist; the bearer was accepted.
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, g.String())
		calls := srv.Calls()
		assert.NotEqual(t, "INS-2", calls[len(calls)-1].Response["output_ResponseCode"], g.String())
	}
}

func TestBearerReportsARefusedSession(t *testing.T) {
	srv := mpesatest.NewServer()
	defer srv.Close()
	client, err := mpesa.NewClient("wrong key", append(srv.Options(mpesa.GatewayOpenAPI), mpesa.WithMarket(mpesa.MarketGhana))...)
	require.NoError(t, err)
	_, err = client.Bearer(context.Background())
	require.ErrorIs(t, err, mpesa.ErrSessionCreation)
	var e *mpesa.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "INS-989", e.Code)
}
