package mpesatest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mpesa-go/mpesa"
	"github.com/mpesa-go/mpesa/mpesatest"
)

// newServer starts a simulator that the test closes.
func newServer(t *testing.T, opts ...mpesatest.Option) *mpesatest.Server {
	t.Helper()
	srv := mpesatest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

// bearer encrypts secret for the simulator as a client does.
func bearer(t *testing.T, srv *mpesatest.Server, secret string) string {
	t.Helper()
	pub, err := mpesa.ParsePublicKey(srv.PublicKey())
	require.NoError(t, err)
	// Deprecated since Go 1.26; the gateways take PKCS #1 v1.5 only.
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(secret))
	require.NoError(t, err)
	return "Bearer " + base64.StdEncoding.EncodeToString(ct)
}

// raw is an HTTP client that speaks to the simulator without the SDK, to
// test what the SDK does not send and the products it does not have yet.
type raw struct {
	t   *testing.T
	srv *mpesatest.Server
	// authz is the Authorization header; origin the Origin header.
	authz, origin string
	// market is the OpenAPI market of the paths.
	market mpesa.Market
	gw     mpesa.Gateway
	// base is where calls go; the simulator's URL when empty.
	base string
}

// openAPI returns a raw client with a live session of market.
func openAPI(t *testing.T, srv *mpesatest.Server, market mpesa.Market) *raw {
	t.Helper()
	c := &raw{t: t, srv: srv, authz: bearer(t, srv, srv.APIKey()), origin: "*", market: market, gw: mpesa.GatewayOpenAPI}
	status, out := c.call(http.MethodGet, "getSession/", nil)
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "INS-0", out["output_ResponseCode"])
	c.authz = bearer(t, srv, out["output_SessionID"])
	return c
}

// mozambique returns a raw client of the Mozambique gateway.
func mozambique(t *testing.T, srv *mpesatest.Server) *raw {
	t.Helper()
	return &raw{t: t, srv: srv, authz: bearer(t, srv, srv.APIKey()), origin: mpesatest.OriginMozambique,
		market: mpesa.MarketMozambique, gw: mpesa.GatewayMozambique}
}

// path returns the URL path of an API below the gateway's prefix.
func (c *raw) path(api string) string {
	if c.gw == mpesa.GatewayMozambique {
		return "/ipg/v1x/" + api
	}
	return "/sandbox/ipg/v2/" + string(c.market) + "/" + api
}

// call sends params (a JSON body for POST and PUT, the query for GET) with
// the standard headers and returns the status and the decoded answer.
func (c *raw) call(method, api string, params map[string]string) (int, map[string]string) {
	c.t.Helper()
	return c.send(method, c.path(api), params, nil)
}

// send is call with a full path and a hook to change the request.
func (c *raw) send(method, path string, params map[string]string, edit func(*http.Request)) (int, map[string]string) {
	c.t.Helper()
	var body io.Reader
	base := c.base
	if base == "" {
		base = c.srv.URL()
	}
	target := base + path
	if method == http.MethodGet {
		if len(params) > 0 {
			q := url.Values{}
			for k, v := range params {
				q.Set(k, v)
			}
			target += "?" + q.Encode()
		}
	} else if params != nil {
		data, err := json.Marshal(params)
		require.NoError(c.t, err)
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, target, body)
	require.NoError(c.t, err)
	c.setHeaders(req)
	if edit != nil {
		edit(req)
	}
	resp, err := c.srv.Client().Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	var out map[string]string
	require.NoError(c.t, json.Unmarshal(data, &out), "answer %q", data)
	return resp.StatusCode, out
}

// setHeaders sets the headers every gateway call carries.
func (c *raw) setHeaders(req *http.Request) {
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", c.authz)
	req.Header.Set("Origin", c.origin)
	req.Header.Set("User-Agent", "mpesatest-raw/1") // not Go's default, which the Mozambique firewall refuses
}

// with returns a copy of base with the changes applied; a value of "-"
// removes the key.
func with(base map[string]string, changes ...string) map[string]string {
	out := make(map[string]string, len(base))
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(changes); i += 2 {
		if changes[i+1] == "-" {
			delete(out, changes[i])
		} else {
			out[changes[i]] = changes[i+1]
		}
	}
	return out
}

// seq makes unique references for a test.
type seq struct {
	mu sync.Mutex
	n  int
}

func (s *seq) next(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return prefix + strconv.Itoa(s.n)
}

// Valid requests of every product, from the documents' samples.
func c2bTZ(ref string) map[string]string {
	return map[string]string{
		"input_Amount":                   "10",
		"input_Country":                  "TZN",
		"input_Currency":                 "TZS",
		"input_CustomerMSISDN":           mpesatest.MSISDNSuccess,
		"input_ServiceProviderCode":      "000000",
		"input_ThirdPartyConversationID": ref,
		"input_TransactionReference":     "T1234C",
		"input_PurchasedItemsDesc":       "Handbag, Black shoes",
	}
}

func mozC2B(ref string) map[string]string {
	return map[string]string{
		"input_TransactionReference": "T12344C",
		"input_CustomerMSISDN":       mpesatest.MozambiqueMSISDNSuccess,
		"input_Amount":               "10",
		"input_ThirdPartyReference":  ref,
		"input_ServiceProviderCode":  "171717",
	}
}

// clock is a settable clock for WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2024, 5, 14, 9, 30, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// keys returns the sorted keys of m.
func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// waitCallbacks waits for n finished deliveries, failing the test after a
// generous bound that only a hung delivery reaches.
func waitCallbacks(t *testing.T, srv *mpesatest.Server, n int) []mpesatest.Callback {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cbs, err := srv.WaitCallbacks(ctx, n)
	require.NoError(t, err, "callbacks so far: %+v", cbs)
	return cbs
}

func readCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
